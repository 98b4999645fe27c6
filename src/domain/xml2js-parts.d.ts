// xml2js's parser and builder, imported apart: parsing (validate, the catalogue) needs no
// xmlbuilder, the builder's large dependency.
declare module 'xml2js/lib/parser.js' {
  import type { parseStringPromise } from 'xml2js';
  const parser: { parseStringPromise: typeof parseStringPromise };
  export default parser;
}
declare module 'xml2js/lib/builder.js' {
  import type { Builder } from 'xml2js';
  const builder: { Builder: typeof Builder };
  export default builder;
}
