package dev.runledger.projections;

import java.util.List;

/** A page of runs, newest first. {@code nextCursor} is null on the last page; {@code total} only on request. */
public record RunPage(List<RunView> runs, String nextCursor, Long total) {
}
