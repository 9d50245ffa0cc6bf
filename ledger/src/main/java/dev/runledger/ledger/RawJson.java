package dev.runledger.ledger;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A JSON value held as the exact UTF-8 bytes it was given in. Never re-serialized, so key order,
 * {@code null} versus absent, number spelling and escapes survive every hop (journal, projection,
 * export). Immutable: the bytes are copied in (or handed over by {@link #ofStored}) and handed out only
 * as a copy or, for writers that copy them onward, read-only by contract ({@link #bytesForWriting}).
 */
public final class RawJson {
    private final byte[] utf8;

    private RawJson(byte[] utf8) {
        this.utf8 = utf8;
    }

    /** Wraps bytes that the caller promises not to modify afterwards (no copy). */
    static RawJson adopt(byte[] utf8) {
        return new RawJson(utf8);
    }

    /**
     * Wraps JSON this system validated before storing it, read back from its own storage (a projection
     * row): neither validated again nor copied, so the caller hands the array over and keeps no reference.
     */
    public static RawJson ofStored(byte[] utf8) {
        return new RawJson(utf8);
    }

    /** A JSON object, validated: throws {@link InvalidEventException} if {@code json} is not one object. */
    public static RawJson object(String json) {
        return object(json.getBytes(StandardCharsets.UTF_8), "value");
    }

    static RawJson object(byte[] utf8, String what) {
        JsonScanner.requireSingleObject(utf8, what);
        return new RawJson(utf8.clone());
    }

    public int length() {
        return utf8.length;
    }

    /** A copy of the bytes. */
    public byte[] toByteArray() {
        return utf8.clone();
    }

    public void writeTo(OutputStream out) throws IOException {
        out.write(utf8);
    }

    /** Direct access for encoders in this package; callers must not modify the array. */
    byte[] bytes() {
        return utf8;
    }

    /**
     * The bytes themselves, without a copy, for writers that copy them onward (a JSON generator's buffer,
     * SQLite's bind of a batched statement).
     * Callers must not modify the array; everyone else uses {@link #toByteArray()} or {@link #writeTo}.
     */
    public byte[] bytesForWriting() {
        return utf8;
    }

    public String text() {
        return new String(utf8, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RawJson other && Arrays.equals(utf8, other.utf8);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(utf8);
    }

    @Override
    public String toString() {
        return text();
    }
}
