package dev.runledger.server;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server's certificate and key as a {@link KeyStore}, from a PKCS#12 file or from PEM (a certificate
 * chain and an unencrypted PKCS#8 key, in one file or two), which is what certbot, a lab's CA and
 * {@code openssl} hand out. Every failure names the file and what to do about it.
 */
final class TlsKeys {
    static final String ALIAS = "runledger";
    private static final Pattern PEM_BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");

    private TlsKeys() {
    }

    /**
     * @param keystore a PKCS#12 file, or a PEM file holding the certificate chain (and the key, unless {@code keyFile} is given)
     * @param password the PKCS#12 password (ignored for PEM); the same password protects the store returned
     */
    static KeyStore load(Path keystore, Path keyFile, char[] password) {
        try {
            byte[] bytes = Files.readAllBytes(keystore);
            if (!looksLikePem(bytes)) {
                if (keyFile != null) {
                    throw new IllegalArgumentException("--tls-key " + keyFile + " goes with a PEM certificate, but "
                            + keystore + " is not PEM (a PKCS#12 keystore holds its own key)");
                }
                KeyStore store = KeyStore.getInstance("PKCS12");
                try (InputStream in = new ByteArrayInputStream(bytes)) {
                    store.load(in, password);
                }
                return store;
            }
            String certPem = new String(bytes, StandardCharsets.US_ASCII);
            String keyPem = keyFile == null ? certPem : Files.readString(keyFile, StandardCharsets.US_ASCII);
            List<Certificate> chain = new ArrayList<>();
            PrivateKey key = null;
            CertificateFactory x509 = CertificateFactory.getInstance("X.509");
            for (Matcher m = PEM_BLOCK.matcher(certPem); m.find(); ) {
                if (m.group(1).equals("CERTIFICATE")) {
                    chain.add(x509.generateCertificate(new ByteArrayInputStream(der(m.group(2)))));
                }
            }
            for (Matcher m = PEM_BLOCK.matcher(keyPem); m.find() && key == null; ) {
                key = privateKey(m.group(1), der(m.group(2)), keyFile == null ? keystore : keyFile);
            }
            if (chain.isEmpty()) {
                throw new IllegalArgumentException(keystore + " holds no -----BEGIN CERTIFICATE----- block");
            }
            if (key == null) {
                throw new IllegalArgumentException((keyFile == null ? keystore + " holds no private key; give it with --tls-key"
                        : keyFile + " holds no -----BEGIN PRIVATE KEY----- block"));
            }
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry(ALIAS, key, password, chain.toArray(Certificate[]::new));
            return store;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the TLS keystore " + keystore + ": " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot load the TLS keystore " + keystore + ": " + e.getMessage(), e);
        }
    }

    private static boolean looksLikePem(byte[] bytes) {
        return new String(bytes, 0, Math.min(bytes.length, 4096), StandardCharsets.ISO_8859_1).contains("-----BEGIN ");
    }

    private static byte[] der(String base64) {
        return Base64.getMimeDecoder().decode(base64);
    }

    private static PrivateKey privateKey(String type, byte[] der, Path file) throws GeneralSecurityException {
        switch (type) {
            case "PRIVATE KEY" -> {
                // PKCS#8 names its algorithm inside; rather than parse the DER for it, try the usual ones
                for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
                    try {
                        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
                    } catch (GeneralSecurityException notThisOne) {
                        // next
                    }
                }
                throw new IllegalArgumentException(file + ": the private key is not RSA, EC or EdDSA");
            }
            case "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY" -> throw new IllegalArgumentException(file
                    + " holds a " + type + "; convert it to an unencrypted PKCS#8 key: openssl pkcs8 -topk8 -nocrypt -in "
                    + file.getFileName() + " -out key.pem");
            default -> {
                return null; // another block (a certificate beside the key): keep looking
            }
        }
    }
}
