package dev.runledger.ledger;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two decoders of untrusted bytes, fuzzed: the NDJSON reader (what clients send) and the excerpt
 * decoder (what the disk gives back). Inputs are arbitrary bytes and mutations of the committed corpus
 * ({@code fuzz-corpus/events.ndjson}). Properties: each decoder either returns an event or refuses with
 * its own typed exception, never anything else; an accepted line keeps its command and summary bytes
 * verbatim and exports to something that decodes to the same event; an excerpt with any byte changed
 * is refused. Tries per property: 500 in the default suite, 2,000,000 with {@code -Pfuzz}.
 */
class DecoderFuzzTest {
    private static final List<String> CORPUS = corpus();

    private static List<String> corpus() {
        try (InputStream in = DecoderFuzzTest.class.getResourceAsStream("/fuzz-corpus/events.ndjson")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Provide
    Arbitrary<byte[]> lines() {
        Arbitrary<byte[]> seeds = Arbitraries.of(CORPUS).map(s -> s.getBytes(StandardCharsets.UTF_8));
        Arbitrary<byte[]> mutated = Combinators.combine(seeds, Arbitraries.integers().between(1, 8),
                Arbitraries.longs()).as(DecoderFuzzTest::mutate);
        Arbitrary<byte[]> spliced = Combinators.combine(seeds, seeds, Arbitraries.doubles().between(0, 1))
                .as((a, b, cut) -> {
                    int i = (int) (a.length * cut);
                    byte[] out = Arrays.copyOf(a, i + b.length - Math.min(i, b.length));
                    System.arraycopy(b, Math.min(i, b.length), out, i, b.length - Math.min(i, b.length));
                    return out;
                });
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(600);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(5, mutated), net.jqwik.api.Tuple.of(2, spliced), net.jqwik.api.Tuple.of(1, seeds),
                net.jqwik.api.Tuple.of(2, random));
    }

    /** Changes {@code edits} bytes at positions drawn from {@code seed}: flip, insert or delete. */
    private static byte[] mutate(byte[] input, int edits, long seed) {
        java.util.Random r = new java.util.Random(seed);
        byte[] b = input;
        for (int i = 0; i < edits && b.length > 0; i++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(4)) {
                case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 1 -> b[at] = (byte) "{}[]\",:\\ 0e.-tfnu\u00ff".charAt(r.nextInt(17));
                case 2 -> {
                    byte[] longer = new byte[b.length + 1];
                    System.arraycopy(b, 0, longer, 0, at);
                    longer[at] = (byte) r.nextInt(256);
                    System.arraycopy(b, at, longer, at + 1, b.length - at);
                    b = longer;
                }
                default -> {
                    byte[] shorter = new byte[b.length - 1];
                    System.arraycopy(b, 0, shorter, 0, at);
                    System.arraycopy(b, at + 1, shorter, at, b.length - at - 1);
                    b = shorter;
                }
            }
        }
        return b;
    }

    @Property
    void shouldAcceptALineOnlyIfItExportsToTheSameEvent(@ForAll("lines") byte[] line) {
        RunEvent event;
        try {
            event = NdjsonCodec.decode(line, 0, line.length);
        } catch (InvalidEventException refused) {
            assertThat(refused.getMessage()).isNotBlank();
            return;
        }
        byte[] exported = NdjsonCodec.encode(event);
        assertThat(NdjsonCodec.decode(exported, 0, exported.length)).isEqualTo(event);
        assertThat(NdjsonCodec.encode(NdjsonCodec.decode(exported, 0, exported.length))).isEqualTo(exported);
        String text = new String(line, StandardCharsets.UTF_8);
        if (event instanceof RunEvent.CommandRecorded c) {
            assertThat(text).as("command bytes kept verbatim").contains(c.command().json().text());
        } else if (event instanceof RunEvent.SummaryRecorded s) {
            assertThat(text).as("summary bytes kept verbatim").contains(s.summary().text());
        }
    }

    @Property
    void shouldReadAStreamAsEventsOrOneTypedRefusal(@ForAll("lines") byte[] a, @ForAll("lines") byte[] b) {
        byte[] stream = new byte[a.length + b.length + 1];
        System.arraycopy(a, 0, stream, 0, a.length);
        stream[a.length] = '\n';
        System.arraycopy(b, 0, stream, a.length + 1, b.length);
        long lines = 1;
        for (byte x : stream) {
            lines += x == '\n' ? 1 : 0;
        }
        try {
            List<RunEvent> events = new NdjsonReader(new ByteArrayInputStream(stream), 4096).readAll();
            assertThat((long) events.size()).isLessThanOrEqualTo(lines);
        } catch (InvalidEventException refused) {
            assertThat(refused.line()).as("the refusal names a line of the input").isBetween(1L, lines);
        } catch (IOException e) {
            throw new AssertionError("a byte array cannot fail to read", e);
        }
    }

    @Provide
    Arbitrary<byte[]> excerpts() {
        Arbitrary<byte[]> valid = Arbitraries.of(CORPUS).map(line -> {
            try {
                RunEvent e = NdjsonCodec.decode(line);
                EventEncoding.Writer w = new EventEncoding.Writer();
                return Arrays.copyOf(w.encode(e, 1_700_000_000_000_000L), w.length());
            } catch (InvalidEventException refused) {
                return new byte[0];
            }
        }).filter(b -> b.length > 0);
        return Arbitraries.oneOf(valid,
                Arbitraries.bytes().array(byte[].class).ofMaxSize(300));
    }

    @Property
    void shouldDecodeAnExcerptOnlyIfNoByteOfItChanged(@ForAll("excerpts") byte[] excerpt,
                                                      @ForAll("positions") int position, @ForAll("bits") int bit) {
        EventEncoding.Reader reader = new EventEncoding.Reader();
        RunEvent original;
        try {
            original = reader.reset(excerpt, excerpt.length).decode();
        } catch (EventEncoding.CorruptExcerptException refused) {
            return; // arbitrary bytes: refused with the decoder's own exception, nothing else
        }
        byte[] damaged = excerpt.clone();
        int at = position % damaged.length;
        damaged[at] ^= (byte) (1 << bit);
        try {
            RunEvent decoded = reader.reset(damaged, damaged.length).decode();
            throw new AssertionError("byte " + at + " changed, yet it decoded to " + decoded + " (was " + original + ")");
        } catch (EventEncoding.CorruptExcerptException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }

    @Provide
    Arbitrary<Integer> positions() {
        return Arbitraries.integers().between(0, Integer.MAX_VALUE);
    }

    @Provide
    Arbitrary<Integer> bits() {
        return Arbitraries.integers().between(0, 7);
    }
}
