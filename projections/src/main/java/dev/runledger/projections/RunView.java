package dev.runledger.projections;

import dev.runledger.ledger.RawJson;

import java.util.Map;

/** One run as the projection holds it. {@code summary} is the JSON exactly as appended (as bytes), or null. */
public record RunView(String id, String createdAt, String protocolId, String status, String completedAt,
                      Map<String, String> labels, RawJson summary, int commandCount, boolean damaged) {
}
