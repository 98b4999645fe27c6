// The usage text of `vmbatch catalogue`, apart from the command: `vmbatch --help` prints it without loading
// the command's modules.

/** Usage of `vmbatch catalogue`. */
export const catalogueUsage = `  catalogue list [--json]      the catalogues, their packages and VMs, and the RTEs on this node
  catalogue search WORD... [--json]
                               packages whose name, description, provides or tags contain a word
  catalogue info NAME [--json] one package: instances, base systems, dependencies, state here
  catalogue resolve RTE... [--base NAME] [--domain TEMPLATE] [--json]
                               what a job asking for these RTEs gets: base, VM, template, packages
  catalogue sweep [--force] [--json]
                               remove expired RTE packages no job uses (FAILED ones stay)
  catalogue setstate STATE NAME...
                               INSTALLABLE (retry a FAILED package), REMOVAL_PENDING, INSTALLED
  exit codes (as the Janitor's): 0 done; 1 cannot provide / no such package / refused; 2 error
`;
