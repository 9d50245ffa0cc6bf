package dev.runledger.ledger;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads NDJSON events from a stream, one per line, naming the line of any failure. Blank lines are
 * skipped; a line longer than the limit is an error rather than a reason to buffer without bound.
 */
public final class NdjsonReader {
    /** The default limit on one line: a little over the largest excerpt the journal takes. */
    public static final int DEFAULT_MAX_LINE_BYTES = 8 << 20;

    private final InputStream in;
    private final int maxLineBytes;
    private final byte[] chunk = new byte[64 * 1024];
    private int chunkPos;
    private int chunkLen;
    private byte[] line = new byte[8 * 1024];
    private long lineNumber;

    public NdjsonReader(InputStream in) {
        this(in, DEFAULT_MAX_LINE_BYTES);
    }

    public NdjsonReader(InputStream in, int maxLineBytes) {
        if (maxLineBytes < 2) {
            throw new IllegalArgumentException("maxLineBytes must be at least 2 but was " + maxLineBytes);
        }
        this.in = in;
        this.maxLineBytes = maxLineBytes;
    }

    /** The next event, or {@code null} at end of input. Failures name the line: "line 7: ...". */
    public RunEvent next() throws IOException {
        while (true) {
            int length = readLine();
            if (length < 0) {
                return null;
            }
            if (isBlank(line, length)) {
                continue;
            }
            try {
                return NdjsonCodec.decode(line, 0, length);
            } catch (InvalidEventException e) {
                throw new InvalidEventException("line " + lineNumber + ": " + e.getMessage(), lineNumber, e);
            }
        }
    }

    /** The 1-based number of the line last read. */
    public long lineNumber() {
        return lineNumber;
    }

    /** Reads and validates every event; either all of them come back or an exception names the first bad line. */
    public List<RunEvent> readAll() throws IOException {
        return readBatch().events();
    }

    /** Every event with the input line it came from, so a later rejection can name its line. */
    public Batch readBatch() throws IOException {
        List<RunEvent> events = new ArrayList<>();
        long[] lines = new long[16];
        RunEvent e;
        while ((e = next()) != null) {
            if (events.size() == lines.length) {
                lines = Arrays.copyOf(lines, lines.length * 2);
            }
            lines[events.size()] = lineNumber;
            events.add(e);
        }
        return new Batch(List.copyOf(events), Arrays.copyOf(lines, events.size()));
    }

    /** Events read from NDJSON and the 1-based line of each. */
    public record Batch(List<RunEvent> events, long[] lines) {
        public long lineOf(int position) {
            return lines[position];
        }
    }

    private int readLine() throws IOException {
        int length = 0;
        boolean any = false;
        while (true) {
            if (chunkPos == chunkLen) {
                chunkLen = in.read(chunk, 0, chunk.length);
                chunkPos = 0;
                if (chunkLen <= 0) {
                    chunkLen = 0;
                    if (!any) {
                        return -1;
                    }
                    lineNumber++;
                    return trimCr(length);
                }
            }
            any = true;
            int start = chunkPos;
            int end = start;
            while (end < chunkLen && chunk[end] != '\n') {
                end++;
            }
            int n = end - start;
            if (length + n > maxLineBytes) {
                throw new InvalidEventException("line " + (lineNumber + 1) + ": longer than the limit of "
                        + maxLineBytes + " bytes", lineNumber + 1, null);
            }
            if (length + n > line.length) {
                line = Arrays.copyOf(line, Math.min(maxLineBytes, Math.max(line.length * 2, length + n)));
            }
            System.arraycopy(chunk, start, line, length, n);
            length += n;
            if (end < chunkLen) {
                chunkPos = end + 1;
                lineNumber++;
                return trimCr(length);
            }
            chunkPos = chunkLen;
        }
    }

    private int trimCr(int length) {
        return length > 0 && line[length - 1] == '\r' ? length - 1 : length;
    }

    private static boolean isBlank(byte[] b, int length) {
        for (int i = 0; i < length; i++) {
            if (b[i] != ' ' && b[i] != '\t') {
                return false;
            }
        }
        return true;
    }
}
