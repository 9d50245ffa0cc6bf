package dev.runledger.ledger;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock the test moves: it stamps events and names the day (the journal's cycle file) each goes into. */
public final class TestClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    /** Moves the clock on by {@code d}. */
    public void advance(java.time.Duration d) {
        now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }

    @Override
    public Instant instant() {
        return now;
    }
}
