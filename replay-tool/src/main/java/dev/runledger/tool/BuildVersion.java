package dev.runledger.tool;

import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** {@code runledger --version}: the version Maven built, from a resource it filtered, never a literal that can drift. */
final class BuildVersion implements CommandLine.IVersionProvider {
    static String version() {
        try (InputStream in = BuildVersion.class.getResourceAsStream("/runledger-version.properties")) {
            if (in == null) {
                return "unknown (not built by Maven)";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String[] getVersion() {
        return new String[] {"runledger " + version()};
    }
}
