// A small, deterministic builder of ONNX graphs over onnx-proto: the reference model pack is written with it.
// Names are generated from a counter, so the same build steps always give the same bytes.
import { onnx } from 'onnx-proto';

export const DT = {
  float: onnx.TensorProto.DataType.FLOAT,
  /** Values are the IEEE half-precision bit patterns (uint16), written as they are: converted weights keep their size. */
  float16: onnx.TensorProto.DataType.FLOAT16,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
} as const;
export type DType = keyof typeof DT;

/** A dimension: a fixed size, or a symbolic name for a dynamic one. */
export type Dim = number | string;

export type Attr =
  | { kind: 'i'; value: number }
  | { kind: 'f'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 's'; value: string }
  | { kind: 'g'; value: GraphBuilder }
  | { kind: 't'; value: onnx.ITensorProto };

export const attr = {
  i: (value: number): Attr => ({ kind: 'i', value }),
  f: (value: number): Attr => ({ kind: 'f', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  s: (value: string): Attr => ({ kind: 's', value }),
  g: (value: GraphBuilder): Attr => ({ kind: 'g', value }),
  t: (value: onnx.ITensorProto): Attr => ({ kind: 't', value }),
};

function valueInfo(name: string, dtype: DType, dims: Dim[] | undefined): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: DT[dtype] };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) };
  return { name, type: { tensorType } };
}

export function tensor(name: string, dtype: DType, dims: number[], values: ArrayLike<number> | ArrayLike<bigint>): onnx.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`tensor ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
  const t: onnx.ITensorProto = { name, dataType: DT[dtype], dims };
  // raw_data in little-endian, the most compact and exactly reproducible encoding.
  let raw: Uint8Array;
  switch (dtype) {
    case 'float':
      raw = new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer);
      break;
    case 'int64':
      raw = new Uint8Array(BigInt64Array.from(Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v))).buffer);
      break;
    case 'int32':
      raw = new Uint8Array(Int32Array.from(values as ArrayLike<number>).buffer);
      break;
    case 'float16':
      raw = new Uint8Array(Uint16Array.from(values as ArrayLike<number>).buffer);
      break;
    case 'uint8':
    case 'bool':
      raw = Uint8Array.from(values as ArrayLike<number>);
      break;
  }
  t.rawData = raw;
  return t;
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;

  constructor(
    readonly name: string,
    /** Prefix of generated names; subgraphs get their own so names never clash with the outer graph. */
    private readonly prefix = name,
  ) {}

  private fresh(hint: string): string {
    return `${this.prefix}/${hint}_${this.counter++}`;
  }

  input(name: string, dtype: DType, dims?: Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Declares `value` as a graph output under `name` (through an Identity when the names differ). */
  output(name: string, value: string, dtype: DType, dims?: Dim[]): void {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.fresh('out') });
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  constant(dtype: DType, dims: number[], values: ArrayLike<number> | ArrayLike<bigint>, hint = 'const'): string {
    const name = this.fresh(hint);
    this.initializers.push(tensor(name, dtype, dims, values));
    return name;
  }

  scalar(value: number, dtype: DType = 'float'): string {
    return this.constant(dtype, [], [value], 'scalar');
  }

  vector(values: number[], dtype: DType = 'float'): string {
    return this.constant(dtype, [values.length], values, 'vec');
  }

  /** Adds a node; returns its single output, or `outputs` names when more than one is asked for. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string {
    return this.opN(opType, inputs, attrs, outputs)[0]!;
  }

  opN(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1, domain = ''): string[] {
    const out = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    const attribute: onnx.IAttributeProto[] = Object.entries(attrs).map(([name, a]) => encodeAttr(name, a));
    this.nodes.push({ opType, input: inputs, output: out, name: this.fresh(`n_${opType}`), attribute, domain });
    return out;
  }

  /** A node whose outputs get the given names (Loop bodies need fixed output names). */
  opNamed(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): void {
    const attribute: onnx.IAttributeProto[] = Object.entries(attrs).map(([name, a]) => encodeAttr(name, a));
    this.nodes.push({ opType, input: inputs, output: outputs, name: this.fresh(`n_${opType}`), attribute });
  }

  /** A nested graph (Loop/If body) whose generated names cannot clash with this graph's. */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(name, `${this.prefix}/${name}${this.counter++}`);
  }

  toProto(): onnx.IGraphProto {
    return { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers };
  }
}

function encodeAttr(name: string, a: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'i':
      return { name, type: T.INT, i: a.value };
    case 'f':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 's':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'g':
      return { name, type: T.GRAPH, g: a.value.toProto() };
    case 't':
      return { name, type: T.TENSOR, t: a.value };
  }
}

export const OPSET = 18;

/** Serializes a model; identical builder calls give identical bytes. */
export function encodeModel(graph: GraphBuilder, docString: string): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'reelforge-models-build',
    producerVersion: '1',
    docString,
    graph: graph.toProto(),
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
}
