package dev.runledger.ledger;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * The append rules' view of every run, saved when a ledger closes, so the next open reads it and scans
 * only the events after it. Without it, opening over 1M events read the whole journal: 0.15 s from the
 * page cache but 1.8 s from a cold disk. The snapshot is an optimisation only, verified and never
 * trusted: a CRC-32C over its content catches damage to it, and the checksum of the excerpt at its last
 * index ties it to the journal as it was; anything wrong (missing, damaged, another journal, an index the
 * journal no longer holds or holds different bytes at) means a full scan instead.
 */
final class StateSnapshot {
    static final String FILE = "ledger-state.snapshot";
    private static final int MAGIC = 0x524c5332; // "RLS2": RLS1 files (no checksums) are ignored, costing one full scan

    /** One run as the rules see it. */
    record RunEntry(RunLifecycle.Phase phase, long phaseIndex, Set<String> labelKeys) {
    }

    /** @param anchor the CRC-32C of the excerpt at {@code lastIndex} as stored when the snapshot was taken */
    record Loaded(long lastIndex, int anchor, Map<String, RunEntry> runs) {
    }

    private StateSnapshot() {
    }

    static void write(Path dir, String journalId, long lastIndex, int anchor, Map<String, RunEntry> runs) throws IOException {
        Path tmp = dir.resolve(FILE + ".tmp");
        CheckedOutputStream checked = new CheckedOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16),
                new CRC32C());
        try (DataOutputStream out = new DataOutputStream(checked)) {
            out.writeInt(MAGIC);
            out.writeUTF(journalId);
            out.writeLong(lastIndex);
            out.writeInt(anchor);
            out.writeInt(runs.size());
            for (Map.Entry<String, RunEntry> e : runs.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeByte(e.getValue().phase().ordinal());
                out.writeLong(e.getValue().phaseIndex());
                out.writeShort(e.getValue().labelKeys().size());
                for (String key : e.getValue().labelKeys()) {
                    out.writeUTF(key);
                }
            }
            out.writeInt(MAGIC); // trailer: a torn write is detected, not half-read
            out.flush();
            out.writeInt((int) checked.getChecksum().getValue()); // over everything before it
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The snapshot, or null if there is none that belongs to this journal. Throws if it is damaged. */
    static Loaded read(Path dir, String journalId) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.exists(file)) {
            return null;
        }
        CheckedInputStream checked = new CheckedInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16),
                new CRC32C());
        try (DataInputStream in = new DataInputStream(checked)) {
            if (in.readInt() != MAGIC) {
                throw new IOException("not a ledger state snapshot of this version");
            }
            if (!journalId.equals(in.readUTF())) {
                return null;
            }
            long lastIndex = in.readLong();
            int anchor = in.readInt();
            int n = in.readInt();
            Map<String, RunEntry> runs = new HashMap<>(Math.max(16, n * 2));
            RunLifecycle.Phase[] phases = RunLifecycle.Phase.values();
            for (int i = 0; i < n; i++) {
                String runId = in.readUTF();
                int ordinal = in.readByte();
                if (ordinal < 0 || ordinal >= phases.length) {
                    throw new IOException("snapshot names an unknown phase " + ordinal);
                }
                RunLifecycle.Phase phase = phases[ordinal];
                long phaseIndex = in.readLong();
                int keys = in.readShort();
                Set<String> labelKeys = new HashSet<>(Math.max(4, keys * 2));
                for (int k = 0; k < keys; k++) {
                    labelKeys.add(in.readUTF());
                }
                runs.put(runId, new RunEntry(phase, phaseIndex, labelKeys));
            }
            if (in.readInt() != MAGIC) {
                throw new IOException("snapshot trailer missing");
            }
            int computed = (int) checked.getChecksum().getValue();
            if (in.readInt() != computed || in.read() != -1) {
                throw new IOException("snapshot checksum mismatch: its content was changed or damaged");
            }
            return new Loaded(lastIndex, anchor, runs);
        }
    }
}
