package dev.runledger.projections;

import dev.runledger.ledger.RawJson;

/** One command of a run; {@code json} is exactly the bytes last recorded for it, never decoded to text on the way out. */
public record CommandView(String runId, int index, String id, String commandType, String status, RawJson json) {
}
