// The usage text of `vmbatch warm`, apart from the command: `vmbatch --help` prints it without
// loading the command's modules.

/** Usage of `vmbatch warm`. */
export const warmUsage = `  warm build TEMPLATE [--vcpus N] [--memory MIB] [--force]
                               boot a <vbwarmstart/> template's guest once and save it: its jobs of
                               that size (default: the template's) then start from the saved state
                               (TEMPLATE: a name in domainsDir or a file)
  warm list [--json]           the saved states: template, key, size, age, current or stale (why)
  warm drop TEMPLATE|KEY       remove a template's saved states (running jobs keep theirs)
`;
