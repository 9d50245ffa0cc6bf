package dev.runledger.projections;

import java.util.List;

/** Opentrons-style page: {@code cursor} is the index of the first command, {@code totalLength} the run's count. */
public record CommandPage(List<CommandView> commands, int cursor, int totalLength) {
}
