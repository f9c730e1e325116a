using System.Diagnostics;
using SharpTune.Progress;

namespace SharpTune.Gguf;

/// <summary>
/// Exports a Hugging Face model directory (config.json, safetensors, tokenizer.json, tokenizer_config.json; a merged
/// base+LoRA model is one) to a GGUF file llama.cpp and Ollama load: llama.cpp's metadata and tensor names, q/k rows
/// permuted for the llama architecture, llama3 rope factors as <c>rope_freqs</c>, tensors converted to the file type
/// with llama.cpp's per-tensor policy and reference quantizers. One tensor chunk is in memory at a time; rows are
/// converted in parallel; the file appears only when complete.
/// </summary>
public static class GgufExporter
{
    public const uint QuantizationVersion = 2;

    public static GgufExportResult Export(string hfModelDirectory, string outPath, GgufFileType fileType,
        IProgress<OperationProgress>? progress = null, GgufExportOptions? options = null, CancellationToken cancellationToken = default)
    {
        var config = HfModelHyperparameters.Load(hfModelDirectory);
        var vocabulary = GgufVocabulary.Load(hfModelDirectory, config);
        using var source = CheckpointTensorSource.Open(hfModelDirectory);
        string name = options?.Name ?? new DirectoryInfo(Path.GetFullPath(hfModelDirectory)).Name;
        return Export(config, vocabulary, source, outPath, fileType, progress, (options ?? new GgufExportOptions()) with { Name = name }, cancellationToken);
    }

    /// <summary>Exports from any tensor source (e.g. synthetic weights for a benchmark).</summary>
    public static GgufExportResult Export(HfModelHyperparameters config, GgufVocabulary vocabulary, IHfTensorSource source, string outPath,
        GgufFileType fileType, IProgress<OperationProgress>? progress = null, GgufExportOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GgufExportOptions();
        var clock = Stopwatch.StartNew();
        var architecture = LlamaCppArchitecture.For(config.ModelType);
        var plan = Plan(config, architecture, source, fileType);
        string task = $"export {Path.GetFileName(outPath)}";
        long totalValues = plan.Sum(p => p.Info.ElementCount);

        using var writer = new GgufWriter(outPath);
        foreach (var (key, value) in Metadata(config, architecture, vocabulary, fileType, options.Name ?? "model"))
        {
            writer.AddMetadata(key, value);
        }

        foreach (var tensor in plan)
        {
            writer.AddTensor(tensor.Info.Name, tensor.Info.Dimensions, tensor.Info.Type);
        }

        writer.BeginTensorData();
        long doneValues = 0;
        progress?.Report(new OperationProgress(task, 0, totalValues, "param"));
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Threads ?? Environment.ProcessorCount, CancellationToken = cancellationToken };
        foreach (var tensor in plan)
        {
            var codec = GgmlTypeTraits.Of(tensor.Info.Type).RequireCodec();
            int rowLength = checked((int)tensor.Info.RowLength);
            long rows = tensor.Info.RowCount;
            long rowBytes = GgmlTypeTraits.Of(tensor.Info.Type).RowBytes(rowLength);
            int rowsPerChunk = (int)Math.Clamp(options.ChunkValues / rowLength, 1, rows);
            var values = new float[(long)rowsPerChunk * rowLength];
            var bytes = new byte[rowsPerChunk * rowBytes];
            for (long first = 0; first < rows; first += rowsPerChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = (int)Math.Min(rowsPerChunk, rows - first);
                tensor.Read(source, first, count, values.AsSpan(0, count * rowLength));
                Parallel.For(0, count, parallel, r =>
                    codec.Quantize(values.AsSpan(r * rowLength, rowLength), bytes.AsSpan((int)(r * rowBytes), (int)rowBytes)));
                writer.WriteTensorData(bytes.AsSpan(0, (int)(count * rowBytes)));
                doneValues += (long)count * rowLength;
                progress?.Report(new OperationProgress(task, doneValues, totalValues, "param", tensor.Info.Name));
            }
        }

        writer.Commit();
        return new GgufExportResult(Path.GetFullPath(outPath), fileType, writer.Tensors, new FileInfo(outPath).Length, totalValues, clock.Elapsed);
    }

    /// <summary>llama.cpp's metadata for the model: general.*, the architecture's hyperparameters, the tokenizer.</summary>
    public static IEnumerable<KeyValuePair<string, GgufValue>> Metadata(HfModelHyperparameters config, LlamaCppArchitecture architecture,
        GgufVocabulary vocabulary, GgufFileType fileType, string name)
    {
        string arch = architecture.GgufName;
        yield return new("general.architecture", GgufValue.String(arch));
        yield return new("general.type", GgufValue.String("model"));
        yield return new("general.name", GgufValue.String(name));
        yield return new("general.file_type", GgufValue.UInt32((uint)fileType));
        yield return new("general.quantization_version", GgufValue.UInt32(QuantizationVersion));
        yield return new($"{arch}.block_count", GgufValue.UInt32((uint)config.LayerCount));
        yield return new($"{arch}.context_length", GgufValue.UInt32((uint)config.ContextLength));
        yield return new($"{arch}.embedding_length", GgufValue.UInt32((uint)config.HiddenSize));
        yield return new($"{arch}.feed_forward_length", GgufValue.UInt32((uint)config.IntermediateSize));
        yield return new($"{arch}.attention.head_count", GgufValue.UInt32((uint)config.HeadCount));
        yield return new($"{arch}.attention.head_count_kv", GgufValue.UInt32((uint)config.KeyValueHeadCount));
        yield return new($"{arch}.rope.freq_base", GgufValue.Float32((float)config.RopeTheta));
        yield return new($"{arch}.attention.layer_norm_rms_epsilon", GgufValue.Float32((float)config.RmsNormEps));
        yield return new($"{arch}.attention.key_length", GgufValue.UInt32((uint)config.HeadDim));
        yield return new($"{arch}.attention.value_length", GgufValue.UInt32((uint)config.HeadDim));
        yield return new($"{arch}.vocab_size", GgufValue.UInt32((uint)vocabulary.Tokens.Count));
        yield return new($"{arch}.rope.dimension_count", GgufValue.UInt32((uint)config.HeadDim));
        foreach (var entry in vocabulary.Metadata())
        {
            yield return entry;
        }
    }

    /// <summary>The tensors to write, in order, with llama.cpp names, ggml dimensions and chosen types.</summary>
    public static IReadOnlyList<GgufTensorPlan> Plan(HfModelHyperparameters config, LlamaCppArchitecture architecture, IHfTensorSource source, GgufFileType fileType)
    {
        var planned = new List<(string? Hf, string Gguf, long[] Shape)>();
        foreach (var hfName in source.Names)
        {
            string? gguf = LlamaCppTensorNames.ToGguf(hfName);
            if (gguf is null || (gguf == "output.weight" && config.TieWordEmbeddings))
            {
                continue;
            }

            planned.Add((hfName, gguf, source.Describe(hfName).Shape.ToArray()));
        }

        if (!planned.Any(p => p.Gguf == "token_embd.weight"))
        {
            throw new SharpTuneException($"{source.Description}: model.embed_tokens.weight is missing");
        }

        if (config.Llama3Rope is not null && architecture.GgufName == "llama")
        {
            planned.Add((null, "rope_freqs.weight", [config.HeadDim / 2]));
        }

        bool hasOutput = planned.Any(p => p.Gguf == "output.weight");
        var result = new List<GgufTensorPlan>();
        foreach (var (hf, gguf, shape) in planned.OrderBy(p => LlamaCppTensorNames.Order(p.Gguf)))
        {
            var dimensions = shape.Reverse().ToArray();
            var type = LlamaCppQuantizationPolicy.TensorType(gguf, dimensions, fileType, config.LayerCount, hasOutput);
            int[]? rowSources = null;
            if (architecture.PermuteQueryKey && hf is not null)
            {
                if (gguf.EndsWith("attn_q.weight", StringComparison.Ordinal) || gguf.EndsWith("attn_q.bias", StringComparison.Ordinal))
                {
                    rowSources = LlamaCppArchitecture.PermutedRowSources(checked((int)shape[0]), config.HeadCount);
                }
                else if (gguf.EndsWith("attn_k.weight", StringComparison.Ordinal) || gguf.EndsWith("attn_k.bias", StringComparison.Ordinal))
                {
                    rowSources = LlamaCppArchitecture.PermutedRowSources(checked((int)shape[0]), config.KeyValueHeadCount);
                }
            }

            float[]? constant = hf is null ? config.Llama3Rope!.Factors(config.HeadDim, config.RopeTheta) : null;
            result.Add(new GgufTensorPlan(new GgufTensorInfo(gguf, dimensions, type, 0), hf, rowSources, constant));
        }

        return result;
    }
}
