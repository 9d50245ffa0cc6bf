package dev.runledger.ledger;

import java.util.Map;

/** Realistic events for tests: Opentrons-shaped commands, including the JSON spellings that must survive. */
public final class TestEvents {
    public static final String CREATED_AT = "2026-11-22T10:00:00Z";

    private TestEvents() {
    }

    public static RunEvent.RunCreated created(String runId) {
        return new RunEvent.RunCreated(runId, CREATED_AT, "p-" + runId, Map.of("tenant", "acme"));
    }

    public static RunEvent.RunCreated created(String runId, Map<String, String> labels) {
        return new RunEvent.RunCreated(runId, CREATED_AT, null, labels);
    }

    public static String commandJson(String id, String type, String status) {
        return "{\"id\":\"" + id + "\",\"commandType\":\"" + type + "\",\"status\":\"" + status + "\","
                + "\"createdAt\":\"2026-11-22T10:00:01.000Z\",\"key\":\"" + id + "-key\",\"notes\":[],"
                + "\"params\":{\"pipetteId\":\"pipette-1\",\"labwareId\":\"labware-2\",\"wellName\":\"A1\","
                + "\"wellLocation\":{\"origin\":\"bottom\",\"offset\":{\"x\":0,\"y\":0,\"z\":1.0}},"
                + "\"flowRate\":92.86,\"volume\":1e-7,\"big\":123456789012345678901234567890},"
                + "\"result\":null,\"escaped\":\"tab\\t quote\\\" unicode \\u00e9 \u00e9\"}";
    }

    public static RunEvent.CommandRecorded command(String runId, String id, String status) {
        return new RunEvent.CommandRecorded(runId, commandJson(id, "aspirate", status));
    }

    public static RunEvent.RunCompleted completed(String runId) {
        return new RunEvent.RunCompleted(runId, CompletionStatus.SUCCEEDED, "2026-11-22T10:42:00Z");
    }
}
