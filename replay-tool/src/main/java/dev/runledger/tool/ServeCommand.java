package dev.runledger.tool;

import dev.runledger.server.RunLedgerServer;
import dev.runledger.server.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs the ledger, the projector and the HTTP API in one process until SIGTERM or Ctrl-C.",
                "Binds 127.0.0.1 by default; any other address needs --token, which appends must then carry."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Mixin
    DbOption db;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "P", description = "Port (default 8080; 0 picks one).")
    int port;

    @Option(names = "--bind", defaultValue = "127.0.0.1", paramLabel = "ADDR", description = "Address (default 127.0.0.1).")
    String bind;

    @Option(names = "--token", paramLabel = "T", description = "Bearer token appends must carry (16+ characters).")
    String token;

    @Option(names = "--max-body-bytes", defaultValue = "33554432", paramLabel = "N", description = "Largest POST body.")
    int maxBodyBytes;

    @Option(names = "--max-wait-ms", defaultValue = "10000", paramLabel = "MS", description = "Longest wait for minIndex.")
    long maxWaitMs;

    @Override
    public Integer call() throws Exception {
        ServerConfig config = ServerConfig.builder(journal.journal, db.db).bind(bind).port(port).token(token)
                .maxBodyBytes(maxBodyBytes).maxWait(java.time.Duration.ofMillis(maxWaitMs)).build();
        RunLedgerServer server = RunLedgerServer.start(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "runledger-shutdown"));
        System.out.println("listening on http://" + bind + ":" + server.port());
        stopped.await();
        return RunLedger.OK;
    }
}
