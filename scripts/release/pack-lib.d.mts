// Types of pack-lib.mjs, for the packaging tests written in TypeScript.
export interface TarEntry {
  /** Path inside the tarball, without the leading `package/`. */
  path: string;
  mode: number;
  size: number;
  /** `file`, or the raw tar type flag of anything else. */
  type: string;
  data: Buffer;
}
export type Manifest = Record<string, any>;
export const ROOT: string;
export const PACKAGES: string[];
export const PREBUILT: { dir: string; file: string; machine: number }[];
export function packPackage(pkgDir: string, dest: string): { tarball: string; entries: TarEntry[]; manifest: Manifest };
export function readTarball(file: string): TarEntry[];
export function bareImports(source: string): Set<string>;
export function workspaceVersions(): Record<string, string>;
export function tarballProblems(pkgDir: string, entries: TarEntry[], manifest: Manifest, options?: { stale?: boolean }): string[];
export function publintProblems(tarball: string): Promise<string[]>;
export function attwProblems(tarball: string): string[];
export function localPrebuilds(pkgDir: string): string[];
