import type {
  OnnxAttribute,
  OnnxElementType,
  OnnxGraph,
  OnnxNode,
  OnnxTensor,
  OnnxTensorData,
  OnnxValueInfo,
} from '@encouraging-loss/onnxruntime-web/graph';

/**
 * Records the nodes of one ONNX graph (or `If` branch) with generated value names, and the initializers the
 * whole model shares: a branch writer is made with {@link GraphWriter.branch} and adds its constants to the root.
 */
export class GraphWriter {
  readonly nodes: OnnxNode[] = [];
  private readonly root: GraphWriter;
  private readonly tensors: OnnxTensor[] = [];
  private readonly constants = new Map<string, string>();
  private counter = { value: 0 };

  constructor(parent?: GraphWriter) {
    this.root = parent?.root ?? this;
    if (parent) this.counter = parent.counter;
  }

  /** A writer for a subgraph: fresh node list, same name counter and initializers. */
  branch(): GraphWriter {
    return new GraphWriter(this);
  }

  /** The initializers of the whole model. */
  get initializers(): OnnxTensor[] {
    return this.root.tensors;
  }

  /** One node with one output; returns the output's name (`name` to choose it). */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, OnnxAttribute> = {},
    name?: string,
  ): string {
    const output = name ?? `/${opType}_${this.counter.value++}`;
    this.nodes.push({ opType, inputs, outputs: [output], attributes });
    return output;
  }

  /** One node with `count` outputs. */
  ops(
    opType: string,
    inputs: readonly string[],
    count: number,
    attributes: Record<string, OnnxAttribute> = {},
  ): string[] {
    const base = `/${opType}_${this.counter.value++}`;
    const outputs = Array.from({ length: count }, (_, i) => `${base}_${i}`);
    this.nodes.push({ opType, inputs, outputs, attributes });
    return outputs;
  }

  /** Adds an initializer named `name`. */
  weight(name: string, type: OnnxElementType, dims: readonly number[], data: OnnxTensorData): string {
    this.root.tensors.push({ name, type, dims, data });
    return name;
  }

  /** A constant (deduplicated by value). */
  constant(type: 'float32' | 'int64' | 'uint8', dims: readonly number[], values: readonly number[]): string {
    const key = `${type}|${dims.join('x')}|${values.join(',')}`;
    const hit = this.root.constants.get(key);
    if (hit) return hit;
    const name = `/const_${this.root.constants.size}`;
    const data =
      type === 'float32'
        ? Float32Array.from(values)
        : type === 'uint8'
          ? Uint8Array.from(values)
          : BigInt64Array.from(values, (v) => BigInt(v));
    this.weight(name, type, dims, data);
    this.root.constants.set(key, name);
    return name;
  }

  /** An int64 vector constant (shapes, axes). */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** A float32 scalar constant. */
  float(value: number): string {
    return this.constant('float32', [], [value]);
  }

  /** An int64 scalar constant. */
  int(value: number): string {
    return this.constant('int64', [], [value]);
  }

  /** This writer's nodes as a graph (a subgraph carries no initializers of its own). */
  toGraph(name: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): OnnxGraph {
    return {
      name,
      nodes: this.nodes,
      initializers: this.root === this ? this.tensors : [],
      inputs,
      outputs,
    };
  }
}
