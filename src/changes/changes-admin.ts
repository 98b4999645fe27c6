import { readdirSync, rmSync, statSync } from 'node:fs';
import { readJsonRecord } from '../fsutil/read-json.js';
import { changesFiles, changesRecordSchema, type ChangesRecord } from './changes-record.js';

/** One of a submitter's layers as `vmbatch changes list` shows it. */
export interface ChangesListing {
  name: string;
  layer: string;
  /** the layer file's size now (undefined: the file is gone) */
  sizeBytes: number | undefined;
  /** its record (undefined: missing or damaged, and no job boots from it) */
  record: ChangesRecord | undefined;
}

/** The layers in a submitter's changes directory (run as the submitter: their own files). */
export function listChanges(home: string, dir: string): ChangesListing[] {
  const where = changesFiles(home, dir, 'x').dir;
  let names: string[];
  try {
    names = readdirSync(where);
  } catch {
    return [];
  }
  const stems = [...new Set(names.filter((n) => /\.(qcow2|json)$/.test(n)).map((n) => n.replace(/\.(qcow2|json)$/, '')))].sort();
  return stems.map((name) => {
    const files = changesFiles(home, dir, name);
    let sizeBytes: number | undefined;
    try {
      sizeBytes = statSync(files.layer).size;
    } catch {
      sizeBytes = undefined;
    }
    return { name, layer: files.layer, sizeBytes, record: readJsonRecord(files.record, changesRecordSchema) };
  });
}

/** Removes a layer and its record; false when there was neither. */
export function removeChanges(home: string, dir: string, name: string): boolean {
  const files = changesFiles(home, dir, name);
  const existed = [files.layer, files.record].filter((f) => {
    try {
      statSync(f);
      return true;
    } catch {
      return false;
    }
  });
  for (const f of existed) rmSync(f, { force: true });
  return existed.length > 0;
}
