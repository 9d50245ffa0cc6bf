package dev.runledger.ledger;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test (or every test of a class) that provokes ERROR log lines on purpose, such as a worker
 * failure routed to the logging handler. Without it, {@link TestHygiene} fails a test that logs at ERROR.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface ExpectErrorLogs {
    /** Why the test logs at ERROR; for the reader. */
    String value();
}
