// The usage text of `vmbatch warm`, apart from the command: `vmbatch --help` prints it without
// loading the command's modules.

/** Usage of `vmbatch warm`. */
export const warmUsage = `  warm build TEMPLATE [--vcpus N] [--memory MIB] [--force]
                               boot a <vbwarmstart/> template's guest once and save it: its jobs of
                               that size (default: the template's) then start from the saved state
                               (TEMPLATE: a name in domainsDir or a file)
  warm fill [TEMPLATE...]      start a template's waiting guests (<vbwarmstart pool='N'>) from its
                               saved state, ending idle ones (default: every template with a pool;
                               with build='auto' the state is built first when none is current)
  warm list [--json]           the saved states: template, key, size, age, current or stale (why);
                               the pool's guests: waiting, or taken by a job
  warm drop TEMPLATE|KEY       remove a template's saved states and their waiting guests (running
                               jobs keep theirs)
`;
