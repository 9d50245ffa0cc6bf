package dev.runledger.projections;

import dev.runledger.ledger.RunEvent;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** A plain, obviously-correct in-memory projection written independently of the SQLite one. */
final class ReferenceModel {
    static final class Run {
        final String id;
        final long createdIndex;
        long createdMs;
        String status = "created";
        String completedAt;
        final TreeMap<String, String> labels = new TreeMap<>();
        String summary;
        final List<String> commandIds = new ArrayList<>();
        final Map<String, String> commandJson = new HashMap<>();
        final Map<String, String> commandStatus = new HashMap<>();
        boolean completed;
        boolean damaged;

        Run(String id, long createdIndex) {
            this.id = id;
            this.createdIndex = createdIndex;
        }
    }

    record Quarantined(long index, String runId, String type) {
    }

    final Map<String, Run> runs = new LinkedHashMap<>();
    final List<Quarantined> quarantine = new ArrayList<>();

    void apply(long index, RunEvent event) {
        Run run = runs.get(event.runId());
        if (event instanceof RunEvent.RunCreated e) {
            if (run != null) {
                reject(index, event, run);
                return;
            }
            Run created = new Run(e.runId(), index);
            created.createdMs = java.time.Instant.parse(e.createdAt()).toEpochMilli();
            created.labels.putAll(e.labels());
            runs.put(e.runId(), created);
            return;
        }
        if (run == null) {
            reject(index, event, null);
            return;
        }
        if (event instanceof RunEvent.CommandRecorded e) {
            if (run.completed) {
                reject(index, event, run);
                return;
            }
            String id = e.command().id();
            if (!run.commandJson.containsKey(id)) {
                run.commandIds.add(id);
            }
            run.commandJson.put(id, e.command().json().text());
            run.commandStatus.put(id, e.command().status());
            if (run.status.equals("created")) {
                run.status = "running";
            }
        } else if (event instanceof RunEvent.LabelsChanged e) {
            TreeMap<String, String> after = new TreeMap<>(run.labels);
            after.putAll(e.set());
            e.remove().forEach(after::remove);
            if (after.size() > 64) {
                reject(index, event, run);
                return;
            }
            run.labels.clear();
            run.labels.putAll(after);
        } else if (event instanceof RunEvent.SummaryRecorded e) {
            run.summary = e.summary().text();
        } else if (event instanceof RunEvent.RunCompleted e) {
            if (run.completed) {
                reject(index, event, run);
                return;
            }
            run.completed = true;
            run.status = e.status().wireName();
            run.completedAt = e.completedAt();
        } else if (event instanceof RunEvent.RunDeleted) {
            runs.remove(event.runId());
        }
    }

    private void reject(long index, RunEvent event, Run run) {
        quarantine.add(new Quarantined(index, event.runId(), event.type()));
        if (run != null) {
            run.damaged = true;
        }
    }

    /** Runs matching the filter, newest first. */
    List<String> query(Map<String, Set<String>> labels, String status) {
        return query(labels, status, null);
    }

    /** Newest first: by journal index, or with {@code CREATED} by createdAt, ties by journal index. */
    List<String> query(Map<String, Set<String>> labels, String status, RunQuery.Order order) {
        Comparator<Run> newestFirst = order == RunQuery.Order.CREATED
                ? Comparator.comparingLong((Run r) -> r.createdMs).thenComparingLong(r -> r.createdIndex).reversed()
                : Comparator.comparingLong((Run r) -> r.createdIndex).reversed();
        return runs.values().stream()
                .filter(r -> status == null || r.status.equals(status))
                .filter(r -> labels.entrySet().stream().allMatch(f -> r.labels.containsKey(f.getKey())
                        && (f.getValue().isEmpty() || f.getValue().contains(r.labels.get(f.getKey())))))
                .sorted(newestFirst)
                .map(r -> r.id)
                .toList();
    }
}
