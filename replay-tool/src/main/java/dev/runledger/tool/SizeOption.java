package dev.runledger.tool;

import picocli.CommandLine;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Size options: bytes, or a number with a unit, binary ({@code 512MiB}, {@code 2GiB}) or decimal
 * ({@code 500MB}); a space between them is allowed.
 */
final class SizeOption implements CommandLine.ITypeConverter<Long> {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([a-z]*)");
    private static final Map<String, Long> UNITS = Map.of("", 1L, "b", 1L,
            "kib", 1L << 10, "mib", 1L << 20, "gib", 1L << 30, "tib", 1L << 40,
            "kb", 1_000L, "mb", 1_000_000L, "gb", 1_000_000_000L, "tb", 1_000_000_000_000L);

    @Override
    public Long convert(String value) {
        Matcher m = SIZE.matcher(value.trim().toLowerCase(Locale.ROOT));
        Long unit = m.matches() ? UNITS.get(m.group(2)) : null;
        if (unit == null) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a size: give bytes (1048576) or a number"
                    + " with a unit (512MiB, 2GiB, 500MB)");
        }
        try {
            return Math.multiplyExact(Long.parseLong(m.group(1)), unit);
        } catch (ArithmeticException | NumberFormatException tooLarge) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too large a size");
        }
    }
}
