package dev.runledger.tool;

import picocli.CommandLine;

import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/** Time options: a UTC instant, an instant with an offset, or a date (its first moment, UTC). */
final class TimeOption implements CommandLine.ITypeConverter<Instant> {
    @Override
    public Instant convert(String value) {
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException notAnInstant) {
            try {
                return OffsetDateTime.parse(value).toInstant();
            } catch (DateTimeParseException notWithOffset) {
                try {
                    return LocalDate.parse(value).atStartOfDay(ZoneOffset.UTC).toInstant();
                } catch (DateTimeParseException notADate) {
                    throw new CommandLine.TypeConversionException("'" + value + "' is not a time: give a date"
                            + " (2026-11-22, from its start in UTC) or a time (2026-11-22T10:00:00Z)");
                }
            }
        }
    }
}
