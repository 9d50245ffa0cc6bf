package dev.runledger.ledger;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads NDJSON events from a stream, one per line, naming the line of any failure: the pull-style face
 * of {@link NdjsonDecoder} (which owns the line rules) for files and pipes.
 */
public final class NdjsonReader {
    /** The default limit on one line: a little over the largest excerpt the journal takes. */
    public static final int DEFAULT_MAX_LINE_BYTES = 8 << 20;

    private final InputStream in;
    private final NdjsonDecoder decoder;
    private final byte[] chunk = new byte[64 * 1024];
    private final ArrayDeque<RunEvent> ready = new ArrayDeque<>();
    private final ArrayDeque<Long> readyLines = new ArrayDeque<>();
    private long lineNumber;
    private boolean eof;

    public NdjsonReader(InputStream in) {
        this(in, DEFAULT_MAX_LINE_BYTES);
    }

    public NdjsonReader(InputStream in, int maxLineBytes) {
        this.in = in;
        this.decoder = new NdjsonDecoder(maxLineBytes);
    }

    /** The next event, or {@code null} at end of input. Failures name the line: "line 7: ...". */
    public RunEvent next() throws IOException {
        while (ready.isEmpty()) {
            if (eof) {
                return null;
            }
            int n = in.read(chunk, 0, chunk.length);
            NdjsonDecoder.Sink sink = (event, line) -> {
                ready.add(event);
                readyLines.add(line);
            };
            if (n < 0) {
                eof = true;
                decoder.end(sink);
            } else {
                decoder.feed(chunk, 0, n, sink);
            }
        }
        lineNumber = readyLines.remove();
        return ready.remove();
    }

    /** The 1-based number of the line the event last returned came from. */
    public long lineNumber() {
        return lineNumber;
    }

    /** Reads and validates every event; either all of them come back or an exception names the first bad line. */
    public List<RunEvent> readAll() throws IOException {
        return readBatch().events();
    }

    /** Every event with the input line it came from, so a later rejection can name its line. */
    public Batch readBatch() throws IOException {
        Batch.Builder batch = new Batch.Builder();
        RunEvent e;
        while ((e = next()) != null) {
            batch.accept(e, lineNumber);
        }
        return batch.build();
    }

    /** Events read from NDJSON and the 1-based line of each. */
    public record Batch(List<RunEvent> events, long[] lines) {
        public long lineOf(int position) {
            return lines[position];
        }

        /** Collects what a {@link NdjsonDecoder} decodes into a batch. */
        public static final class Builder implements NdjsonDecoder.Sink {
            private final List<RunEvent> events = new ArrayList<>();
            private long[] lines = new long[16];

            @Override
            public void accept(RunEvent event, long line) {
                if (events.size() == lines.length) {
                    lines = Arrays.copyOf(lines, lines.length * 2);
                }
                lines[events.size()] = line;
                events.add(event);
            }

            public Batch build() {
                return new Batch(List.copyOf(events), Arrays.copyOf(lines, events.size()));
            }
        }
    }
}
