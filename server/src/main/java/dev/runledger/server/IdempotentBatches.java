package dev.runledger.server;

import java.security.MessageDigest;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The batches appended lately under an {@code Idempotency-Key} (the IETF httpapi draft's header): a client
 * that lost the answer to a POST /events sends the same body with the same key again, and gets the first
 * answer instead of a second copy of its events (or a 409 for a second {@code run.created}). A key is
 * remembered with a digest of its body, so the same key on another body is refused (422) rather than
 * answered with someone else's index.
 *
 * <p>Kept in memory only, for {@link #TTL} and the newest {@link #CAPACITY} keys: a retry that crosses a
 * restart of the server is appended again (at least once). Looked up and recorded while the caller holds
 * the one append turn, so two copies of a batch in flight at once are appended once.
 */
final class IdempotentBatches {
    static final int CAPACITY = 10_000;
    static final Duration TTL = Duration.ofMinutes(10);
    private static final Pattern KEY = Pattern.compile("[\\x21-\\x7e]{1,128}");

    /** The answer a batch got; {@code replayed} when it is given again to a retry. */
    record Outcome(long lastIndex, int appended, boolean replayed) {
    }

    private record Entry(byte[] digest, Outcome outcome, long atNanos) {
    }

    private final Map<String, Entry> byKey = new LinkedHashMap<>(256, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
            return size() > CAPACITY;
        }
    };

    /** Checks a header's value: 1-128 visible ASCII characters (a UUID is typical). */
    static String requireKey(String key) {
        if (!KEY.matcher(key).matches()) {
            throw HttpError.badRequest("Idempotency-Key must be 1-128 visible ASCII characters (a UUID, say) but was \""
                    + Exchange.abbreviate(key) + "\"");
        }
        return key;
    }

    /** The first answer to {@code key}, or null if it is new (or forgotten); 422 if it came with another body. */
    synchronized Outcome find(String key, byte[] digest) {
        Entry e = byKey.get(key);
        if (e == null) {
            return null;
        }
        if (System.nanoTime() - e.atNanos() > TTL.toNanos()) {
            byKey.remove(key);
            return null;
        }
        if (!MessageDigest.isEqual(e.digest(), digest)) {
            throw new HttpError(422, "IdempotencyKeyReused", "Idempotency-Key " + Exchange.abbreviate(key) + " was used"
                    + " for another body (appended up to index " + e.outcome().lastIndex() + "); use a new key per batch");
        }
        return new Outcome(e.outcome().lastIndex(), e.outcome().appended(), true);
    }

    synchronized void remember(String key, byte[] digest, Outcome outcome) {
        byKey.put(key, new Entry(digest, outcome, System.nanoTime()));
    }
}
