// The package ships types that its "exports" map hides from NodeNext resolution; these are the
// parts the renderer uses, as declared in its types/index.d.ts.
declare module "@hanazuki/node-jsonnet" {
  export class Jsonnet {
    extString(key: string, value: string): this;
    addJpath(path: string): this;
    evaluateSnippet(snippet: string, filename?: string): Promise<string>;
  }
}
