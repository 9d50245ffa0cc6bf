package dev.runledger.ledger;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * What the ledger last vouched for: the journal held {@code events} excerpts up to and including
 * {@code index}, whose chain head was {@code chain}. Written atomically ({@code journal.seal}) with its
 * own checksum, after a sync when {@code durable} (the data was on disk), otherwise at the ledger's
 * regular sealing. Opening a ledger compares the journal with it: fewer events, or none at its index,
 * means events were lost; {@code verify --journal} also compares the chain.
 */
record Seal(String journalId, long index, long events, byte[] chain, boolean durable, long sealedAtMillis) {
    static final String FILE = "journal.seal";
    private static final int MAGIC = 0x524c4831; // "RLH1"

    String chainHex() {
        return HexFormat.of().formatHex(chain);
    }

    void write(Path dir) throws IOException {
        write(dir, true);
    }

    /** Without {@code sync} the caller syncs the directory's files itself (a compaction's copy, in one pass). */
    void write(Path dir, boolean sync) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeUTF(journalId);
            out.writeLong(index);
            out.writeLong(events);
            out.write(chain);
            out.writeBoolean(durable);
            out.writeLong(sealedAtMillis);
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        byte[] content = Arrays.copyOf(bytes.toByteArray(), bytes.size() + 4);
        int c = (int) crc.getValue();
        for (int i = 0; i < 4; i++) {
            content[bytes.size() + i] = (byte) (c >>> (24 - 8 * i));
        }
        Path tmp = dir.resolve(FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(content));
            if (sync) {
                ch.force(true);
            }
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The seal of this journal, or null if there is none; throws if it is damaged or another journal's. */
    static Seal read(Path dir, String journalId) throws IOException {
        byte[] content;
        try {
            content = Files.readAllBytes(dir.resolve(FILE));
        } catch (NoSuchFileException none) {
            return null;
        }
        if (content.length < 8) {
            throw new IOException(FILE + " is truncated (" + content.length + " bytes)");
        }
        CRC32C crc = new CRC32C();
        crc.update(content, 0, content.length - 4);
        int stored = ((content[content.length - 4] & 0xff) << 24) | ((content[content.length - 3] & 0xff) << 16)
                | ((content[content.length - 2] & 0xff) << 8) | (content[content.length - 1] & 0xff);
        if (stored != (int) crc.getValue()) {
            throw new IOException(FILE + " fails its checksum");
        }
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(content, 0, content.length - 4))) {
            if (in.readInt() != MAGIC) {
                throw new IOException(FILE + " is not a journal seal of this version");
            }
            String id = in.readUTF();
            if (!id.equals(journalId)) {
                throw new IOException(FILE + " belongs to journal " + id + ", not " + journalId);
            }
            long index = in.readLong();
            long events = in.readLong();
            byte[] chain = new byte[32];
            in.readFully(chain);
            return new Seal(id, index, events, chain, in.readBoolean(), in.readLong());
        }
    }
}
