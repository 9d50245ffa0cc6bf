package dev.runledger.projections;

import dev.runledger.ledger.RunEvent;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A filter over runs: labels (AND across keys; a set of values of one key is an OR; an empty set means
 * the key merely exists), status, creation time range; newest first in the given {@link Order}, one page
 * at a time. A null order is the store's own: a robot's journal order, the fleet's {@code createdAt}.
 */
public record RunQuery(Map<String, Set<String>> labels, String status, Instant createdFrom, Instant createdBefore,
                       int pageLength, String cursor, boolean includeTotal, Order order) {
    public static final int MAX_PAGE_LENGTH = 1000;
    public static final int DEFAULT_PAGE_LENGTH = 50;

    public RunQuery {
        Map<String, Set<String>> copy = new LinkedHashMap<>();
        for (Map.Entry<String, Set<String>> e : (labels == null ? Map.<String, Set<String>>of() : labels).entrySet()) {
            RunEvent.requireLabelKey("query", e.getKey()); // a key no run can carry is a mistake, not an empty answer
            copy.put(e.getKey(), Collections.unmodifiableSet(new LinkedHashSet<>(e.getValue())));
        }
        labels = Collections.unmodifiableMap(copy);
        if (labels.size() > RunEvent.MAX_LABELS_PER_RUN) {
            throw new IllegalArgumentException("a query takes at most " + RunEvent.MAX_LABELS_PER_RUN + " label keys (a run"
                    + " has at most that many labels) but was given " + labels.size());
        }
        if (pageLength < 1 || pageLength > MAX_PAGE_LENGTH) {
            throw new IllegalArgumentException("pageLength must be 1-" + MAX_PAGE_LENGTH + " but was " + pageLength);
        }
        // Opaque to the caller: a robot's projection pages by journal index, the fleet by time, robot and index.
        if (cursor != null && !cursor.matches("[A-Za-z0-9._~-]{1,200}")) {
            throw new IllegalArgumentException("cursor must be a value returned as nextCursor but was \"" + cursor + "\"");
        }
        if (status != null && !Set.of("created", "running", "succeeded", "failed", "stopped").contains(status)) {
            throw new IllegalArgumentException("status must be one of created, running, succeeded, failed, stopped but was \""
                    + status + "\"");
        }
    }

    /** Which "newest first". */
    public enum Order {
        /**
         * By when the run's {@code run.created} was appended (its journal index): the order a robot created its
         * runs in, whatever {@code createdAt} they carry. A robot's default.
         */
        APPENDED,
        /** By {@code createdAt}, then by journal index; the fleet's only order (robots' journals have no common order). */
        CREATED;

        /** {@code appended} or {@code created}, as the CLI and HTTP spell it. */
        public static Order parse(String name) {
            if (name == null) {
                return null;
            }
            return switch (name) {
                case "appended" -> APPENDED;
                case "created" -> CREATED;
                default -> throw new IllegalArgumentException("order must be appended (journal order) or created"
                        + " (createdAt) but was \"" + name + "\"");
            };
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final Map<String, Set<String>> labels = new LinkedHashMap<>();
        private String status;
        private Instant createdFrom;
        private Instant createdBefore;
        private int pageLength = DEFAULT_PAGE_LENGTH;
        private String cursor;
        private boolean includeTotal;
        private Order order;

        /** Adds {@code value} to the values accepted for {@code key}. */
        public Builder label(String key, String value) {
            labels.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(value);
            return this;
        }

        /** Requires {@code key} to be present with any value. */
        public Builder labelExists(String key) {
            labels.computeIfAbsent(key, k -> new LinkedHashSet<>());
            return this;
        }

        public Builder status(String status) {
            this.status = status;
            return this;
        }

        public Builder createdFrom(Instant from) {
            this.createdFrom = from;
            return this;
        }

        public Builder createdBefore(Instant before) {
            this.createdBefore = before;
            return this;
        }

        public Builder pageLength(int pageLength) {
            this.pageLength = pageLength;
            return this;
        }

        public Builder cursor(String cursor) {
            this.cursor = cursor;
            return this;
        }

        public Builder includeTotal(boolean includeTotal) {
            this.includeTotal = includeTotal;
            return this;
        }

        /** Which "newest first" (null: the store's own, see {@link RunQuery}). */
        public Builder order(Order order) {
            this.order = order;
            return this;
        }

        public RunQuery build() {
            return new RunQuery(labels, status, createdFrom, createdBefore, pageLength, cursor, includeTotal, order);
        }
    }
}
