import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, relative } from 'node:path';
import type { MjModel } from '@mujoco/mujoco';
import { XMLParser } from 'fast-xml-parser';
import { mujoco } from './module.js';

/** A model file and every file it references, by path relative to the model's folder. */
export interface MjcfFiles {
  readonly path: string;
  /** The `<mujoco model="…">` name, or the file's base name. */
  readonly model: string;
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** Deepest element nesting read (fast-xml-parser's default; a Menagerie humanoid nests ~20). */
const MAX_DEPTH = 100;

/** Elements whose `file` attribute names an asset, and the compiler folder each is under. */
const ASSET_DIRS: Record<string, 'meshdir' | 'texturedir' | null> = { mesh: 'meshdir', skin: 'meshdir', hfield: 'meshdir', texture: 'texturedir', include: null, model: null };

/**
 * Reads an MJCF file and, recursively, what it references (`<include file>`, meshes, textures,
 * height fields, skins), resolving folders as MuJoCo does (`compiler meshdir / texturedir /
 * assetdir`, relative to the model's folder). Missing files fail here, naming the file and the
 * element that wants it — before MuJoCo reads anything.
 */
export function readMjcfFiles(path: string): MjcfFiles {
  if (!existsSync(path)) throw new Error(`MJCF file ${path} not found`);
  const root = dirname(path);
  const files = new Map<string, Uint8Array>();
  // MuJoCo's wasm build overflows its stack on deep chains (~130 nested bodies after a compile
  // error, ~400 before, measured) and corrupts its memory for every later model: refused here.
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', preserveOrder: true, maxNestedTags: MAX_DEPTH });
  const dirs = { meshdir: '', texturedir: '' };
  const visit = (file: string, from: string): void => {
    const key = normalize(relative(root, file));
    if (files.has(key)) return;
    if (!existsSync(file)) throw new Error(`MJCF file ${path}: ${from} names ${file}, which does not exist`);
    if (!statSync(file).isFile()) throw new Error(file === path ? `MJCF file ${path} is not a file` : `MJCF file ${path}: ${from} names ${file}, which is not a file`);
    const bytes = readFileSync(file);
    files.set(key, new Uint8Array(bytes));
    if (!/\.xml$/i.test(file)) return;
    let tree: unknown;
    try {
      tree = parser.parse(bytes.toString('utf8'));
    } catch (err) {
      const message = (err as Error).message.split('\n')[0] ?? '';
      if (/Maximum nested tags/.test(message)) throw new Error(`MJCF file ${file}: elements nested deeper than ${MAX_DEPTH} (MuJoCo's WebAssembly build would overflow its stack)`, { cause: err });
      throw new Error(`MJCF file ${file}: not XML (${message})`, { cause: err });
    }
    walk(tree, (tag, attrs) => {
      if (tag === 'compiler') {
        const asset = str(attrs['@assetdir']);
        dirs.meshdir = str(attrs['@meshdir']) ?? asset ?? dirs.meshdir;
        dirs.texturedir = str(attrs['@texturedir']) ?? asset ?? dirs.texturedir;
      }
      const ref = str(attrs['@file']);
      if (!(tag in ASSET_DIRS) || ref === undefined) return;
      const dir = ASSET_DIRS[tag];
      // MuJoCo takes an absolute path as it is (joined onto the model's folder it named a file that is not there).
      visit(isAbsolute(ref) ? ref : join(root, dir ? dirs[dir] : '', ref), `<${tag} file="${ref}">`);
    });
  };
  visit(path, 'the config');
  const main = Buffer.from(files.get(normalize(relative(root, path))) as Uint8Array).toString('utf8');
  const model = /<mujoco\b[^>]*\bmodel\s*=\s*"([^"]*)"/.exec(main)?.[1] || basename(path).replace(/\.xml$/i, '');
  return { path, model, files };
}

/**
 * Compiles an MJCF file with its assets through MuJoCo's in-memory file system; MuJoCo's own
 * message (naming the element and line) is reported with the file.
 */
export function compileMjcf(path: string): { model: MjModel; name: string } {
  const { files, model: name } = readMjcfFiles(path);
  const mj = mujoco();
  const vfs = new mj.MjVFS();
  try {
    for (const [name, bytes] of files) vfs.addBuffer(name, bytes);
    return { model: mj.MjModel.from_xml_path(normalize(relative(dirname(path), path)), vfs), name };
  } catch (err) {
    throw new Error(`MJCF file ${path}: ${(err as Error).message.trim()}`, { cause: err });
  } finally {
    vfs.delete();
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Depth-first over fast-xml-parser's ordered tree: each element's tag and attributes. */
function walk(node: unknown, visit: (tag: string, attrs: Record<string, unknown>) => void): void {
  if (!Array.isArray(node)) return;
  for (const item of node) {
    if (typeof item !== 'object' || item === null) continue;
    const entry = item as Record<string, unknown>;
    const attrs = (entry[':@'] ?? {}) as Record<string, unknown>;
    for (const [tag, children] of Object.entries(entry)) {
      if (tag === ':@' || tag === '#text') continue;
      visit(tag, attrs);
      walk(children, visit);
    }
  }
}
