// The usage text of `vmbatch images`, apart from the command: `vmbatch --help` prints it without loading
// the command's modules.

/** Usage of `vmbatch images`. */
export const imagesUsage = `  images list [--json]        the image cache: entries, sizes, last use, jobs using them
  images fetch SOURCE [--hash ALGO:HEX] [--format FMT]
                               put an image into the cache before jobs need it
  images verify [--delete]     re-read every entry and compare it with its recorded digest
  images prune [--older-than AGE] [--max-size SIZE] [--dry-run]
                               remove unused entries (AGE like 30d or 12h, SIZE like 200G)
  images policy                print the user image policy (what vbuserimage may name)
`;
