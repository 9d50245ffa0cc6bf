package dev.runledger.projections;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Where every failure of a worker thread goes (after it has been logged with context). */
@FunctionalInterface
public interface WorkerFailureHandler {

    /** @param worker the thread's role, e.g. "projector runs.sqlite"; @param context what it was doing */
    void onFailure(String worker, String context, Throwable failure);

    /** Logs at ERROR and nothing else: the default. */
    static WorkerFailureHandler logging() {
        return LoggingFailureHandler.INSTANCE;
    }

    enum LoggingFailureHandler implements WorkerFailureHandler {
        INSTANCE;

        private static final Logger LOG = LoggerFactory.getLogger(WorkerFailureHandler.class);

        @Override
        public void onFailure(String worker, String context, Throwable failure) {
            LOG.error("{} - {}", worker, context, failure);
        }
    }
}
