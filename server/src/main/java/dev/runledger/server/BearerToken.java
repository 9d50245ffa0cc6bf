package dev.runledger.server;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;

/**
 * The server's one check of {@code Authorization: Bearer <token>} (RFC 6750): the scheme matches in any
 * case, the token in constant time. With no token configured (a loopback-only server) everything passes.
 */
final class BearerToken {
    private final byte[] token;

    BearerToken(String token) {
        this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
    }

    /** Throws 401 unless {@code header} carries the token. */
    void check(String header) {
        if (token == null) {
            return;
        }
        int space = header == null ? -1 : header.indexOf(' ');
        boolean ok = space > 0 && header.substring(0, space).toLowerCase(Locale.ROOT).equals("bearer")
                && MessageDigest.isEqual(token, header.substring(space + 1).trim().getBytes(StandardCharsets.UTF_8));
        if (!ok) {
            throw new HttpError(401, "Unauthorized", "this server needs the header Authorization: Bearer <token>");
        }
    }
}
