package dev.runledger.projections;

import java.util.Map;

/** One run as the projection holds it. {@code summary} is the JSON text exactly as appended, or null. */
public record RunView(String id, String createdAt, String protocolId, String status, String completedAt,
                      Map<String, String> labels, String summary, int commandCount, boolean damaged) {
}
