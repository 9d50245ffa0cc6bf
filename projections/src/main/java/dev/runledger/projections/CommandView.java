package dev.runledger.projections;

/** One command of a run; {@code json} is exactly the bytes last recorded for it. */
public record CommandView(String runId, int index, String id, String commandType, String status, String json) {
}
