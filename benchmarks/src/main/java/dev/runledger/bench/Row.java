package dev.runledger.bench;

/** One line of the summary: a target, what was measured, its baseline in the same run, and the goal. */
record Row(String target, String measured, String baseline, String ratio, String goal, Boolean met) {
    static String fmt(String pattern, Object... args) {
        return String.format(java.util.Locale.ROOT, pattern, args);
    }
}
