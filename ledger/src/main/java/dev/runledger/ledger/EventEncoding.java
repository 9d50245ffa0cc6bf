package dev.runledger.ledger;

import dev.runledger.ledger.RunEvent.CommandRecorded;
import dev.runledger.ledger.RunEvent.LabelsChanged;
import dev.runledger.ledger.RunEvent.RunCompleted;
import dev.runledger.ledger.RunEvent.RunCreated;
import dev.runledger.ledger.RunEvent.RunDeleted;
import dev.runledger.ledger.RunEvent.SummaryRecorded;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The journal's excerpt format. Each excerpt carries the fields a projector needs already extracted
 * (run id, command id, type, status) beside the raw JSON bytes, so neither the live projector nor a
 * rebuild parses command JSON again.
 *
 * <pre>
 * byte   format version (2; journals written before checksums hold version 1, which lacks the next field)
 * byte   event type code
 * long   append time, epoch microseconds
 * int    CRC-32C of every other byte of the excerpt (version 2 only)
 * ...    per type: strings as (int length, UTF-8 bytes; -1 = null), raw JSON as (int length, bytes)
 * </pre>
 *
 * Every read of a version 2 excerpt checks its checksum first, so a flipped bit anywhere is reported as
 * damage instead of being decoded into a different event. Version 1 excerpts still read, as unchecked.
 */
final class EventEncoding {
    static final byte VERSION = 2;
    static final byte VERSION_UNCHECKED = 1;
    /**
     * The whole of an excerpt compaction left in place of a dropped event: one byte. Chronicle numbers the
     * excerpts of a cycle without gaps, so keeping every index where it was means writing something there;
     * every reader skips it.
     */
    static final byte COMPACTED = 3;

    /** Whether {@code buf[0, length)} is the stand-in compaction left for a dropped event. */
    static boolean isCompacted(byte[] buf, int length) {
        return length == 1 && buf[0] == COMPACTED;
    }
    static final int HEADER_BYTES_UNCHECKED = 10;
    static final int HEADER_BYTES = 14;
    private static final int CRC_OFFSET = 10;

    private EventEncoding() {
    }

    /** The CRC-32C an excerpt of format version 2 must carry: over every byte but the checksum's own four. */
    static int checksum(byte[] buf, int length) {
        CRC32C crc = new CRC32C();
        crc.update(buf, 0, CRC_OFFSET);
        crc.update(buf, HEADER_BYTES, length - HEADER_BYTES);
        return (int) crc.getValue();
    }

    /** A reusable, growable buffer; one per writing thread. */
    static final class Writer {
        byte[] buf = new byte[1024];
        int pos;

        /** Encodes into the reusable buffer and returns it; {@link #length()} bytes of it are the excerpt. */
        byte[] encode(RunEvent event, long appendedAtMicros) {
            pos = 0;
            EventType type = event.eventType();
            put(VERSION);
            put(type.code());
            putLong(appendedAtMicros);
            putInt(0); // the checksum, filled in once the body is written
            putString(event.runId());
            byte[] encoded = switch (type) {
                case RUN_CREATED -> body((RunCreated) event);
                case COMMAND_RECORDED -> body((CommandRecorded) event);
                case LABELS_CHANGED -> body((LabelsChanged) event);
                case SUMMARY_RECORDED -> body((SummaryRecorded) event);
                case RUN_COMPLETED -> body((RunCompleted) event);
                case RUN_DELETED -> body((RunDeleted) event);
                case JOURNAL_LOSS -> body((RunEvent.JournalLoss) event);
            };
            int crc = checksum(encoded, pos);
            encoded[CRC_OFFSET] = (byte) (crc >>> 24);
            encoded[CRC_OFFSET + 1] = (byte) (crc >>> 16);
            encoded[CRC_OFFSET + 2] = (byte) (crc >>> 8);
            encoded[CRC_OFFSET + 3] = (byte) crc;
            return encoded;
        }

        private byte[] body(RunCreated e) {
            putString(e.createdAt());
            putString(e.protocolId());
            putMap(e.labels());
            return buf;
        }

        private byte[] body(CommandRecorded e) {
            CommandJson c = e.command();
            putString(c.id());
            putString(c.commandType());
            putString(c.status());
            putBytes(c.json().bytes());
            return buf;
        }

        private byte[] body(LabelsChanged e) {
            putMap(e.set());
            putInt(e.remove().size());
            for (String k : e.remove()) {
                putString(k);
            }
            return buf;
        }

        /** Excerpts written before reasons existed end after the run id; that is read as no reason. */
        private byte[] body(RunDeleted e) {
            if (e.reason() != null) {
                putString(e.reason());
            }
            return buf;
        }

        private byte[] body(SummaryRecorded e) {
            putBytes(e.summary().bytes());
            return buf;
        }

        private byte[] body(RunEvent.JournalLoss e) {
            putLong(e.afterIndex());
            putLong(e.sealedIndex());
            putLong(e.missingEvents());
            put(e.withinDurabilityWindow() ? (byte) 1 : 0);
            putString(e.detectedAt());
            return buf;
        }

        private byte[] body(RunCompleted e) {
            putString(e.status().wireName());
            putString(e.completedAt());
            return buf;
        }

        int length() {
            return pos;
        }

        private void ensure(int n) {
            if (pos + n > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
            }
        }

        private void put(byte b) {
            ensure(1);
            buf[pos++] = b;
        }

        private void putInt(int v) {
            ensure(4);
            buf[pos++] = (byte) (v >>> 24);
            buf[pos++] = (byte) (v >>> 16);
            buf[pos++] = (byte) (v >>> 8);
            buf[pos++] = (byte) v;
        }

        private void putLong(long v) {
            putInt((int) (v >>> 32));
            putInt((int) v);
        }

        private void putString(String s) {
            if (s == null) {
                putInt(-1);
                return;
            }
            putBytes(s.getBytes(StandardCharsets.UTF_8));
        }

        private void putBytes(byte[] b) {
            putInt(b.length);
            ensure(b.length);
            System.arraycopy(b, 0, buf, pos, b.length);
            pos += b.length;
        }

        private void putMap(Map<String, String> map) {
            putInt(map.size());
            for (Map.Entry<String, String> e : map.entrySet()) {
                putString(e.getKey());
                putString(e.getValue());
            }
        }
    }

    /**
     * Decodes one excerpt; throws {@link CorruptExcerptException} naming what was wrong. The checksum
     * of a version 2 excerpt is checked before anything else is believed, its header included.
     */
    static final class Reader {
        private byte[] buf;
        private int pos;
        private int end;
        private int bodyStart;

        Reader reset(byte[] buf, int length) {
            this.buf = buf;
            this.pos = 0;
            this.end = length;
            this.bodyStart = -1;
            return this;
        }

        /** Checks the header (and the checksum of a version 2 excerpt); true if the excerpt was checksummed. */
        boolean check() {
            if (bodyStart >= 0) {
                return bodyStart == HEADER_BYTES;
            }
            if (end < HEADER_BYTES_UNCHECKED) {
                throw new CorruptExcerptException("truncated excerpt: " + end + " bytes, shorter than any header");
            }
            if (buf[0] == VERSION) {
                if (end < HEADER_BYTES) {
                    throw new CorruptExcerptException("truncated excerpt: " + end + " bytes, shorter than the "
                            + HEADER_BYTES + "-byte header");
                }
                int stored = ((buf[CRC_OFFSET] & 0xff) << 24) | ((buf[CRC_OFFSET + 1] & 0xff) << 16)
                        | ((buf[CRC_OFFSET + 2] & 0xff) << 8) | (buf[CRC_OFFSET + 3] & 0xff);
                int actual = checksum(buf, end);
                if (stored != actual) {
                    throw new CorruptExcerptException(String.format("checksum mismatch: stored %08x, computed %08x over %d"
                            + " bytes", stored, actual, end));
                }
                bodyStart = HEADER_BYTES;
                return true;
            }
            if (buf[0] == VERSION_UNCHECKED) {
                bodyStart = HEADER_BYTES_UNCHECKED;
                return false;
            }
            throw new CorruptExcerptException("unknown excerpt format version " + buf[0]);
        }

        EventType type() {
            check();
            EventType type = EventType.fromCode(buf[1]);
            if (type == null) {
                throw new CorruptExcerptException("unknown event type code " + buf[1]);
            }
            return type;
        }

        long appendedAtMicros() {
            check();
            pos = 2;
            return getLong();
        }

        /**
         * The run id an excerpt names, believing nothing but its length fields: for reports about a damaged
         * excerpt (whose checksum failed). Null if even that does not read.
         */
        String runIdUnchecked() {
            if (end < HEADER_BYTES_UNCHECKED || (buf[0] != VERSION && buf[0] != VERSION_UNCHECKED)) {
                return null;
            }
            pos = buf[0] == VERSION ? HEADER_BYTES : HEADER_BYTES_UNCHECKED;
            try {
                String id = getString();
                return id != null && id.length() <= Validation.MAX_ID_LENGTH ? id : null;
            } catch (CorruptExcerptException e) {
                return null;
            }
        }

        RunEvent decode() {
            EventType type = type();
            pos = bodyStart;
            String runId = getString();
            try {
                RunEvent event = switch (type) {
                    case RUN_CREATED -> new RunCreated(runId, getString(), getString(), getMap());
                    case COMMAND_RECORDED -> {
                        String id = getString();
                        String commandType = getString();
                        String status = getString();
                        RawJson json = RawJson.adopt(getBytes());
                        yield new CommandRecorded(runId, CommandJson.validated(id, commandType, status, json));
                    }
                    case LABELS_CHANGED -> {
                        Map<String, String> set = getMap();
                        int n = getCount();
                        List<String> remove = new ArrayList<>(n);
                        for (int i = 0; i < n; i++) {
                            remove.add(getString());
                        }
                        yield new LabelsChanged(runId, set, remove);
                    }
                    case SUMMARY_RECORDED -> new SummaryRecorded(runId, RawJson.adopt(getBytes()));
                    case RUN_COMPLETED -> new RunCompleted(runId, CompletionStatus.fromWire(getString()), getString());
                    case RUN_DELETED -> new RunDeleted(runId, pos < end ? getString() : null);
                    case JOURNAL_LOSS -> new RunEvent.JournalLoss(getLong(), getLong(), getLong(), getByte() != 0, getString());
                };
                if (pos != end) {
                    throw new CorruptExcerptException((end - pos) + " unexpected trailing bytes after " + event.type());
                }
                return event;
            } catch (InvalidEventException e) {
                throw new CorruptExcerptException("stored event breaks a rule: " + e.getMessage());
            }
        }

        private void require(int n) {
            if (n < 0 || pos + n > end) {
                throw new CorruptExcerptException("truncated excerpt: needed " + n + " bytes at offset " + pos
                        + " of " + end);
            }
        }

        private int getInt() {
            require(4);
            int v = ((buf[pos] & 0xff) << 24) | ((buf[pos + 1] & 0xff) << 16) | ((buf[pos + 2] & 0xff) << 8)
                    | (buf[pos + 3] & 0xff);
            pos += 4;
            return v;
        }

        private long getLong() {
            return ((long) getInt() << 32) | (getInt() & 0xffffffffL);
        }

        private byte getByte() {
            require(1);
            return buf[pos++];
        }

        private int getCount() {
            int n = getInt();
            require(n < 0 ? -1 : 0);
            return n;
        }

        private String getString() {
            int n = getInt();
            if (n == -1) {
                return null;
            }
            require(n);
            String s = new String(buf, pos, n, StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        private byte[] getBytes() {
            int n = getInt();
            require(n);
            byte[] b = Arrays.copyOfRange(buf, pos, pos + n);
            pos += n;
            return b;
        }

        private Map<String, String> getMap() {
            int n = getCount();
            if (n > 4096) {
                throw new CorruptExcerptException("implausible label count " + n);
            }
            Map<String, String> map = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                map.put(getString(), getString());
            }
            return map;
        }
    }

    static final class CorruptExcerptException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CorruptExcerptException(String message) {
            super(message, null, false, false);
        }
    }
}
