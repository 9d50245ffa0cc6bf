package dev.runledger.ledger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Keeps {@code journal.seal} current: extends the hash chain over what was appended since the last seal
 * (reading the journal, off the append path) and writes the new seal. The chain state lives only here;
 * appends never pay for it.
 */
final class Sealer {
    private static final Logger LOG = LoggerFactory.getLogger(Sealer.class);

    private final ChronicleJournal journal;
    private long index;
    // set by restart(), which the constructor calls
    private long events;
    private JournalAudit.Chain chain;
    private Seal last;

    /** Continues from {@code trusted}, a seal the journal was found to agree with; null starts from the beginning. */
    Sealer(ChronicleJournal journal, Seal trusted) {
        this.journal = journal;
        restart(trusted);
    }

    /** Continues from {@code trusted} (null: from the beginning); a compaction swapped in a journal with a new chain. */
    synchronized void restart(Seal trusted) {
        if (trusted != null) {
            index = trusted.index();
            events = trusted.events();
            chain = new JournalAudit.Chain(trusted.chain());
            last = trusted;
        } else {
            index = Journal.NONE;
            events = 0;
            chain = new JournalAudit.Chain(journal.id());
            last = null;
        }
    }

    /**
     * Extends the chain to {@code upTo} without writing a seal, returning the chain head (hex) there, or
     * null for an empty journal: what a compaction records as the head of the journal it replaces.
     */
    synchronized String chainTo(long upTo) {
        extend(upTo);
        return index == Journal.NONE ? null : java.util.HexFormat.of().formatHex(chain.head());
    }

    /** Extends the chain to {@code upTo} (inclusive, or as far as the journal reads) and writes the seal. */
    synchronized Seal sealTo(long upTo, boolean durable) {
        if (upTo == Journal.NONE || upTo <= index && last != null && last.durable() == durable) {
            return last;
        }
        extend(upTo);
        Seal seal = new Seal(journal.id(), index, events, chain.head(), durable, System.currentTimeMillis());
        try {
            seal.write(journal.directory());
            last = seal;
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: cannot write {}; the next open cannot tell whether events after {} were lost", journal,
                    Seal.FILE, last == null ? "the start" : Long.toString(last.index()), e);
        }
        return last;
    }

    private void extend(long upTo) {
        if (upTo == Journal.NONE || upTo <= index) {
            return;
        }
        long[] added = {index};
        journal.readRaw(index, (i, buf, length) -> {
            if (i > upTo) {
                return false;
            }
            chain.add(i, buf, length);
            events++;
            added[0] = i;
            return i < upTo;
        });
        index = added[0];
    }
}
