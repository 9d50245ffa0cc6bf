package dev.runledger.server;

import java.io.IOException;

/**
 * What the HTTP front serves: a robot's own ledger and projection ({@link RobotBackend}), or the fleet's
 * PostgreSQL projection ({@link FleetBackend}). The front (Jetty, tokens, limits, metrics, parked reads, stopping)
 * is the same for both.
 */
interface Backend extends AutoCloseable {

    /** Adds this backend's endpoints to the route table. */
    void addRoutes(Routes routes, RunsEndpoint runs);

    /** Where parked {@code minIndex} reads learn that their index is applied. */
    MinIndexWaits.Progress progress();

    /**
     * The robot a read's {@code minIndex} refers to: null for the server's own journal; over the fleet, the robot the
     * path or the {@code robot} parameter names (an error when neither does).
     */
    String minIndexRobot(Exchange exchange, Routes.Match match);

    /** The applied journal index for {@code robot} (see {@link #minIndexRobot}). */
    long applied(String robot);

    void health(Exchange exchange) throws IOException;

    /** One line for the start log: what is served. */
    String describe();

    /** The journal, when this backend appends to one (a shipper in the same process reads it); null over the fleet. */
    dev.runledger.ledger.Journal journal();

    @Override
    void close();
}
