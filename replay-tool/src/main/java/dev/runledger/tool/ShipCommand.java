package dev.runledger.tool;

import dev.runledger.fleet.ShipVerifier;
import dev.runledger.fleet.Shipper;
import dev.runledger.fleet.ShipperConfig;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.ReaderPositions;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "ship", mixinStandardHelpOptions = true,
        description = {"Ships a robot's journal to a Kafka topic, in journal order.",
                "It starts from the shipper's checkpoint, kept as readers/shipper-ROBOT-TOPIC beside the journal (compaction",
                "waits for it). Without --follow it ships up to the head and stops; with it, it keeps tailing until Ctrl-C.",
                "--verify compares the topic with the journal instead: every shipped event there, in order, byte for byte,",
                "with its chain head."})
final class ShipCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--robot", required = true, paramLabel = "ID", description = "The robot's id: the key of its records.")
    String robot;

    @Option(names = "--kafka", required = true, paramLabel = "HOST:PORT", description = "Kafka bootstrap servers.")
    String kafka;

    @Option(names = "--topic", defaultValue = ShipperConfig.DEFAULT_TOPIC, paramLabel = "T",
            description = "Topic (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--follow", description = "Keep shipping what is appended, until Ctrl-C or SIGTERM.")
    boolean follow;

    @Option(names = "--verify", description = "Compare the topic with the journal up to the shipper's checkpoint; ships nothing.")
    boolean verify;

    @Option(names = "--json", description = "Print the summary (or the --verify report) as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        try (Journal j = Journal.openExisting(journal.journal)) {
            ShipperConfig config = ShipperConfig.builder(j, robot, kafka).topic(topic).follow(follow)
                    .meterRegistry(new SimpleMeterRegistry()).build();
            return verify ? verify(j, config) : ship(j, config);
        }
    }

    private int ship(Journal j, ShipperConfig config) throws Exception {
        try (Shipper shipper = new Shipper(config); Progress progress = Progress.start("ship", !json && !follow)) {
            long from = shipper.acknowledged();
            long target = j.headIndex();
            Thread reporter = new Thread(() -> {
                long total = j.countBetween(from, target);
                while (!Thread.currentThread().isInterrupted()) {
                    progress.onProgress(j.countBetween(from, shipper.acknowledged()), total);
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "runledger-ship-progress");
            reporter.setDaemon(true);
            reporter.start();
            if (follow) {
                StopSignals.onStop(shipper::close);
            }
            Shipper.Summary s = shipper.run();
            reporter.interrupt();
            if (json) {
                System.out.println(Json.write(g -> {
                    g.writeStartObject();
                    g.writeStringField("robot", robot);
                    g.writeStringField("topic", topic);
                    g.writeNumberField("events", s.events());
                    g.writeNumberField("bytes", s.bytes());
                    g.writeNumberField("damaged", s.damaged());
                    g.writeNumberField("checkpoint", s.lastIndex());
                    g.writeNumberField("resends", s.retries());
                    g.writeNumberField("millis", s.took().toMillis());
                    g.writeEndObject();
                }));
            } else {
                double seconds = Math.max(s.took().toNanos() / 1e9, 1e-9);
                System.out.printf(Locale.ROOT, "ship: %,d events (%,d KiB) of robot %s to %s at %s in %.1f s (%,.0f events/s);"
                                + " checkpoint %d; %d resend(s)%s%n", s.events(), s.bytes() / 1024, robot, topic, kafka, seconds,
                        s.events() / seconds, s.lastIndex(), s.retries(),
                        s.damaged() > 0 ? "; " + s.damaged() + " damaged excerpt(s) shipped as damaged (see the log)" : "");
            }
            return RunLedger.OK;
        }
    }

    private int verify(Journal j, ShipperConfig config) {
        long upTo = ReaderPositions.read(j.directory()).getOrDefault(config.readerName(), Journal.NONE);
        ShipVerifier.Report r = ShipVerifier.verify(j, robot, kafka, topic, upTo);
        if (json) {
            System.out.println(Json.write(g -> {
                g.writeStartObject();
                g.writeBooleanField("ok", r.ok());
                g.writeNumberField("checkpoint", upTo);
                g.writeNumberField("events", r.events());
                g.writeNumberField("records", r.records());
                g.writeNumberField("duplicates", r.duplicates());
                g.writeNumberField("missing", r.missing());
                g.writeNumberField("outOfOrder", r.outOfOrder());
                g.writeNumberField("different", r.different());
                g.writeNumberField("chainDifferent", r.chainDifferent());
                g.writeNumberField("damaged", r.damaged());
                g.writeArrayFieldStart("problems");
                for (String p : r.problems()) {
                    g.writeString(p);
                }
                g.writeEndArray();
                g.writeEndObject();
            }));
        } else {
            System.out.printf(Locale.ROOT, "ship --verify: %s: %,d events of robot %s up to checkpoint %d; topic %s has %,d"
                            + " records of it (%,d sent twice); %d missing, %d out of order, %d different, %d with another chain"
                            + " head%s%n", r.ok() ? "OK" : "MISMATCH", r.events(), robot, upTo, topic, r.records(), r.duplicates(),
                    r.missing(), r.outOfOrder(), r.different(), r.chainDifferent(),
                    r.chainDifferent() > 0 && r.compactedSince() ? " (the journal was compacted since: its chain is new)" : "");
            r.problems().forEach(p -> System.out.println("  " + p));
        }
        return r.ok() ? RunLedger.OK : RunLedger.FAILED;
    }
}
