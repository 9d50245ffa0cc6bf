package dev.runledger.tool;

import dev.runledger.ledger.CompletionStatus;
import dev.runledger.ledger.RunEvent;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Simulates a protocol engine: runs of Opentrons-shaped commands (home, loadLabware, pickUpTip,
 * aspirate, dispense, dropTip, ...), each recorded queued, running, then final, with labels, a
 * state summary and a completion. Deterministic for a given seed.
 */
public final class EngineSimulator {
    private static final String[] LIQUID_STEPS = {"pickUpTip", "aspirate", "dispense", "blowout", "dropTip"};
    private static final String[] ROBOTS = {"OT-2", "Flex"};
    private static final String[] TENANTS = {"acme", "globex", "initech", "umbrella"};
    private static final String[] PROTOCOLS = {"pcr-setup", "elisa", "serial-dilution", "normalization", "dna-extraction"};

    private final Random random;
    private long clockMillis;

    public EngineSimulator(long seed) {
        this.random = new Random(seed);
        this.clockMillis = 1_795_000_000_000L + (seed % 1000) * 86_400_000L;
    }

    /** Emits one whole run: creation, {@code commands} commands x 3 records, summary and completion. */
    public void run(String runId, int commands, Consumer<RunEvent> out) {
        String robot = ROBOTS[random.nextInt(ROBOTS.length)];
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("robot", robot);
        labels.put("tenant", TENANTS[random.nextInt(TENANTS.length)]);
        labels.put("protocol", PROTOCOLS[random.nextInt(PROTOCOLS.length)]);
        out.accept(new RunEvent.RunCreated(runId, time(), "proto-" + labels.get("protocol"), labels));
        boolean fails = random.nextInt(10) == 0;
        int failAt = fails ? random.nextInt(Math.max(1, commands)) : -1;
        for (int i = 0; i < commands; i++) {
            String id = runId + "-cmd-" + i;
            String type = commandType(i);
            String params = params(type, i);
            String createdAt = time();
            out.accept(new RunEvent.CommandRecorded(runId, command(id, type, "queued", createdAt, null, null, params, null)));
            String startedAt = time();
            out.accept(new RunEvent.CommandRecorded(runId, command(id, type, "running", createdAt, startedAt, null, params, null)));
            boolean failed = i == failAt;
            String result = failed ? null : result(type);
            out.accept(new RunEvent.CommandRecorded(runId, command(id, type, failed ? "failed" : "succeeded", createdAt,
                    startedAt, time(), params, result)));
            if (failed) {
                break;
            }
        }
        out.accept(new RunEvent.SummaryRecorded(runId, "{\"errors\":" + (fails ? "[{\"errorType\":\"PipetteOverpressure\"}]" : "[]")
                + ",\"labware\":[{\"id\":\"labware-1\",\"loadName\":\"corning_96_wellplate_360ul_flat\"}],"
                + "\"pipettes\":[{\"id\":\"pipette-1\",\"pipetteName\":\"p300_single_gen2\",\"mount\":\"left\"}],"
                + "\"liquids\":[],\"status\":\"" + (fails ? "failed" : "succeeded") + "\"}"));
        out.accept(new RunEvent.RunCompleted(runId, fails ? CompletionStatus.FAILED : CompletionStatus.SUCCEEDED, time()));
    }

    /** One command in its final state, about 500 bytes like a median real command. */
    public String finalCommand(String id, int i) {
        String type = commandType(i);
        return command(id, type, "succeeded", time(), time(), time(), params(type, i), result(type));
    }

    private static String commandType(int i) {
        if (i == 0) {
            return "home";
        }
        if (i < 3) {
            return i == 1 ? "loadLabware" : "loadPipette";
        }
        return LIQUID_STEPS[(i - 3) % LIQUID_STEPS.length];
    }

    private String params(String type, int i) {
        String well = "ABCDEFGH".charAt(i % 8) + Integer.toString(1 + (i / 8) % 12);
        return switch (type) {
            case "home" -> "{}";
            case "loadLabware" -> "{\"loadName\":\"corning_96_wellplate_360ul_flat\",\"location\":{\"slotName\":\"2\"},"
                    + "\"namespace\":\"opentrons\",\"version\":1}";
            case "loadPipette" -> "{\"pipetteName\":\"p300_single_gen2\",\"mount\":\"left\"}";
            case "pickUpTip", "dropTip" -> "{\"pipetteId\":\"pipette-1\",\"labwareId\":\"tiprack-1\",\"wellName\":\"" + well
                    + "\",\"wellLocation\":{\"origin\":\"top\",\"offset\":{\"x\":0,\"y\":0,\"z\":0}}}";
            default -> String.format(Locale.ROOT, "{\"pipetteId\":\"pipette-1\",\"labwareId\":\"labware-1\",\"wellName\":\"%s\","
                    + "\"wellLocation\":{\"origin\":\"bottom\",\"offset\":{\"x\":0,\"y\":0,\"z\":1.0}},"
                    + "\"flowRate\":%.2f,\"volume\":%.1f}", well, 46.43 + random.nextInt(50), 10.0 + random.nextInt(190));
        };
    }

    private static String result(String type) {
        return switch (type) {
            case "aspirate", "dispense" -> "{\"volume\":100.0,\"position\":{\"x\":14.38,\"y\":74.24,\"z\":2.05}}";
            case "pickUpTip" -> "{\"tipVolume\":300.0,\"tipLength\":51.83,\"position\":{\"x\":14.38,\"y\":74.24,\"z\":64.69}}";
            case "loadLabware" -> "{\"labwareId\":\"labware-1\",\"offsetId\":null}";
            case "loadPipette" -> "{\"pipetteId\":\"pipette-1\"}";
            default -> "{}";
        };
    }

    private static String command(String id, String type, String status, String createdAt, String startedAt,
                                  String completedAt, String params, String result) {
        StringBuilder sb = new StringBuilder(512);
        sb.append("{\"id\":\"").append(id).append("\",\"createdAt\":\"").append(createdAt).append("\",\"commandType\":\"")
                .append(type).append("\",\"key\":\"").append(id).append("-key\",\"status\":\"").append(status).append('"');
        if (startedAt != null) {
            sb.append(",\"startedAt\":\"").append(startedAt).append('"');
        }
        if (completedAt != null) {
            sb.append(",\"completedAt\":\"").append(completedAt).append('"');
        }
        sb.append(",\"params\":").append(params);
        if (result != null) {
            sb.append(",\"result\":").append(result);
        }
        if ("failed".equals(status)) {
            sb.append(",\"error\":{\"errorType\":\"PipetteOverpressure\",\"detail\":\"overpressure detected\"}");
        }
        return sb.append(",\"notes\":[]}").toString();
    }

    private String time() {
        clockMillis += 50 + random.nextInt(400);
        return java.time.Instant.ofEpochMilli(clockMillis).toString();
    }

    /** A whole run as a list. */
    public List<RunEvent> runEvents(String runId, int commands) {
        List<RunEvent> events = new ArrayList<>(commands * 3 + 3);
        run(runId, commands, events::add);
        return events;
    }
}
