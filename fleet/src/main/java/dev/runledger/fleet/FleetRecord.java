package dev.runledger.fleet;

import java.nio.charset.StandardCharsets;

/**
 * The Kafka record layout of the fleet contract: key = robot id; value = the event as one NDJSON line
 * without its newline (byte-identical to {@code export}); headers naming the robot, the journal, the
 * journal index and the chain head at that event. A damaged excerpt travels as an empty value with
 * {@link #DAMAGED} naming what was wrong, so the fleet sees the gap where it is.
 */
public final class FleetRecord {
    public static final String ROBOT = "runledger-robot";
    public static final String JOURNAL = "runledger-journal";
    public static final String INDEX = "runledger-index";
    public static final String CHAIN = "runledger-chain";
    public static final String DAMAGED = "runledger-damaged";

    private FleetRecord() {
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A header's value as text, or null if the record has none of that name. */
    public static String header(org.apache.kafka.common.header.Headers headers, String name) {
        org.apache.kafka.common.header.Header h = headers.lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
