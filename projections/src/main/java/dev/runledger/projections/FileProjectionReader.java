package dev.runledger.projections;

/** A {@link ProjectionReader} over a file: a small read pool and nothing else. */
final class FileProjectionReader extends DelegatingQueries implements ProjectionReader {
    private final ReadPool pool;
    private final Meta meta;

    FileProjectionReader(ReadPool pool, Meta meta) {
        super(fixed(new SqliteRunQueries(pool)));
        this.pool = pool;
        this.meta = meta;
    }

    private static java.util.function.Supplier<RunQueries> fixed(RunQueries queries) {
        return () -> queries;
    }

    @Override
    public Meta meta() {
        return meta;
    }

    @Override
    public void close() {
        pool.close();
    }
}
