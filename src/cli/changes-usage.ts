// The usage text of `vmbatch changes`, apart from the command: `vmbatch --help` prints it without
// loading the command's modules.

/** Usage of `vmbatch changes`. */
export const changesUsage = `  changes list [--json]        your saved changes: name, size, template, base image, when saved
  changes info NAME            one layer: its file, size, template, disk, base image and digest, job
  changes rm NAME              remove a layer and its record
                               (a job saves one with -l other=vbsavechanges=NAME and boots from one
                               with -l other=vbchanges=NAME; docs/submitters.md, "Your own changes")
`;
