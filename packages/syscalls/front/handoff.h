/*
 * The warm-server hand-off of the native front (docs/cli-start.md "The design we build",
 * step 1): the front's main() calls this FIRST, before anything else it does.
 */
#ifndef NS_FRONT_HANDOFF_H
#define NS_FRONT_HANDOFF_H

/*
 * Hand the whole `ns` call to a warm `ns serve` process when one accepts on `<root>/.server`.
 *   argc, argv  the call as the user typed it, argv[0] "ns" (the front's own first argument,
 *               the path of dist/ns.cjs, is left out)
 *   root        the state root the front resolved from `--root` or the default, or NULL when
 *               the command line is one the front does not parse
 * Returns -1 when there is no warm server (or it did not take the call): the front goes on
 * with its record verbs, then Node. Returns the call's exit status (0..255) when the server
 * carried the call out. Any other negative value: the server is there but the front must not
 * act itself: it falls back to Node.
 */
int ns_front_handoff(int argc, char **argv, const char *root);

#endif
