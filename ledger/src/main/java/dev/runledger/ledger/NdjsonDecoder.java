package dev.runledger.ledger;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * NDJSON events decoded as their bytes arrive, in chunks cut anywhere (a server's network buffers, a
 * file's blocks): each complete line is validated the moment its newline is seen, so a bad line is
 * reported while the rest of a body is still on its way, and nothing but the one unfinished line is
 * ever buffered. Blank lines are skipped, a trailing {@code \r} is dropped, and a line longer than the
 * limit is an error rather than a reason to buffer without bound. Failures name the 1-based line.
 *
 * <p>Not thread-safe: one decoder per stream, fed in order.
 */
public final class NdjsonDecoder {
    /** Where decoded events go, each with the line it came from. */
    @FunctionalInterface
    public interface Sink {
        void accept(RunEvent event, long line);
    }

    private final int maxLineBytes;
    /** The unfinished line carried between chunks (empty when a chunk ended on a newline). */
    private byte[] partial = new byte[0];
    private int partialLength;
    private long lineNumber;
    private boolean ended;

    public NdjsonDecoder(int maxLineBytes) {
        if (maxLineBytes < 2) {
            throw new IllegalArgumentException("maxLineBytes must be at least 2 but was " + maxLineBytes);
        }
        this.maxLineBytes = maxLineBytes;
    }

    /** Decodes every line that {@code chunk} completes and keeps the rest; consumes the buffer. */
    public void feed(ByteBuffer chunk, Sink sink) {
        if (ended) {
            throw new IllegalStateException("fed after end()");
        }
        if (chunk.hasArray()) {
            feed(chunk.array(), chunk.arrayOffset() + chunk.position(), chunk.remaining(), sink);
            chunk.position(chunk.limit());
        } else {
            byte[] copy = new byte[chunk.remaining()];
            chunk.get(copy);
            feed(copy, 0, copy.length, sink);
        }
    }

    /** Decodes every line that {@code bytes[offset, offset+length)} completes and keeps the rest. */
    public void feed(byte[] bytes, int offset, int length, Sink sink) {
        int end = offset + length;
        int start = offset;
        for (int i = offset; i < end; i++) {
            if (bytes[i] != '\n') {
                continue;
            }
            if (partialLength == 0) {
                // the common case: the whole line is in this chunk, decoded where it lies
                checkLength(i - start);
                line(bytes, start, i - start, sink);
            } else {
                append(bytes, start, i - start);
                line(partial, 0, partialLength, sink);
                partialLength = 0;
            }
            start = i + 1;
        }
        if (start < end) {
            append(bytes, start, end - start);
        }
    }

    /** The input ended: decodes a last line without a newline. Nothing may be fed after. */
    public void end(Sink sink) {
        if (!ended) {
            ended = true;
            if (partialLength > 0) {
                line(partial, 0, partialLength, sink);
                partialLength = 0;
            }
        }
    }

    /** How many lines were completed so far. */
    public long lineNumber() {
        return lineNumber;
    }

    private void append(byte[] bytes, int offset, int length) {
        checkLength(partialLength + length);
        if (partialLength + length > partial.length) {
            partial = Arrays.copyOf(partial, Math.min(maxLineBytes, Math.max(Math.max(partial.length * 2, 8 * 1024),
                    partialLength + length)));
        }
        System.arraycopy(bytes, offset, partial, partialLength, length);
        partialLength += length;
    }

    private void checkLength(int length) {
        // a \r before the newline is not part of the line, so the limit allows for it
        if (length > maxLineBytes) {
            throw new InvalidEventException("line " + (lineNumber + 1) + ": longer than the limit of " + maxLineBytes
                    + " bytes", lineNumber + 1, null);
        }
    }

    private void line(byte[] bytes, int offset, int length, Sink sink) {
        lineNumber++;
        if (length > 0 && bytes[offset + length - 1] == '\r') {
            length--;
        }
        if (isBlank(bytes, offset, length)) {
            return;
        }
        RunEvent event;
        try {
            event = NdjsonCodec.decode(bytes, offset, length);
        } catch (InvalidEventException e) {
            throw new InvalidEventException("line " + lineNumber + ": " + e.getMessage(), lineNumber, e);
        }
        sink.accept(event, lineNumber);
    }

    private static boolean isBlank(byte[] b, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            if (b[i] != ' ' && b[i] != '\t') {
                return false;
            }
        }
        return true;
    }
}
