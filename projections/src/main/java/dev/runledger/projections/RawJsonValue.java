package dev.runledger.projections;

import com.fasterxml.jackson.core.SerializableString;
import dev.runledger.ledger.RawJson;

import java.io.OutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Stored JSON handed to Jackson's {@code writeRawValue} as bytes: a UTF-8 generator copies them straight
 * into its buffer, so a command travels from SQLite to the response without becoming a {@code String}.
 * Only the unquoted UTF-8 forms are meaningful; the character forms exist for generators writing chars.
 */
final class RawJsonValue implements SerializableString {
    private final byte[] utf8;

    RawJsonValue(RawJson json) {
        this.utf8 = json.bytesForWriting();
    }

    @Override
    public int appendUnquotedUTF8(byte[] buffer, int offset) {
        if (offset + utf8.length > buffer.length) {
            return -1; // the generator flushes and calls asUnquotedUTF8()
        }
        System.arraycopy(utf8, 0, buffer, offset, utf8.length);
        return utf8.length;
    }

    @Override
    public byte[] asUnquotedUTF8() {
        return utf8;
    }

    @Override
    public int writeUnquotedUTF8(OutputStream out) throws IOException {
        out.write(utf8);
        return utf8.length;
    }

    @Override
    public int putUnquotedUTF8(ByteBuffer buffer) {
        if (utf8.length > buffer.remaining()) {
            return -1;
        }
        buffer.put(utf8);
        return utf8.length;
    }

    @Override
    public String getValue() {
        return new String(utf8, StandardCharsets.UTF_8);
    }

    @Override
    public int charLength() {
        return getValue().length();
    }

    @Override
    public int appendUnquoted(char[] buffer, int offset) {
        String s = getValue();
        if (offset + s.length() > buffer.length) {
            return -1;
        }
        s.getChars(0, s.length(), buffer, offset);
        return s.length();
    }

    // Quoted forms would make the value a JSON string; a raw value is never written quoted.

    @Override
    public char[] asQuotedChars() {
        throw new UnsupportedOperationException("raw JSON is written unquoted");
    }

    @Override
    public byte[] asQuotedUTF8() {
        throw new UnsupportedOperationException("raw JSON is written unquoted");
    }

    @Override
    public int appendQuotedUTF8(byte[] buffer, int offset) {
        throw new UnsupportedOperationException("raw JSON is written unquoted");
    }

    @Override
    public int appendQuoted(char[] buffer, int offset) {
        throw new UnsupportedOperationException("raw JSON is written unquoted");
    }

    @Override
    public int writeQuotedUTF8(OutputStream out) {
        throw new UnsupportedOperationException("raw JSON is written unquoted");
    }

    @Override
    public int putQuotedUTF8(ByteBuffer buffer) {
        throw new UnsupportedOperationException("raw JSON is written unquoted");
    }
}
