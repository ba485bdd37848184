// node-gyp-build ships no types.
declare module 'node-gyp-build' {
  /** Load the native addon of the package in `dir`: build/Release, then prebuilds/<platform>-<arch>/. */
  function load(dir: string): unknown;
  export default load;
}
