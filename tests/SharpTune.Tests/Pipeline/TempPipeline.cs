using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;

namespace SharpTune.Tests.Pipeline;

/// <summary>
/// A temporary folder with what a pipeline file points at (a tokenizer folder, training and evaluation rows), a
/// cache and an output folder; deleted on dispose.
/// </summary>
internal sealed class TempPipeline : IDisposable
{
    public TempPipeline()
    {
        Root = Path.Combine(Path.GetTempPath(), "sharptune-pipeline-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(Root, "tokenizer"));
        File.WriteAllText(Path.Combine(Root, "tokenizer", "tokenizer.json"), "{\"model\":{\"type\":\"BPE\"}}");
        File.WriteAllText(Path.Combine(Root, "tokenizer", "tokenizer_config.json"), "{}");
        File.WriteAllLines(Path.Combine(Root, "train.jsonl"), Enumerable.Range(0, 10).Select(i => $"{{\"instruction\":\"q{i}\",\"input\":\"r{i}\",\"output\":\"a{i}\"}}"));
        File.WriteAllLines(Path.Combine(Root, "eval.jsonl"), ["{\"instruction\":\"q\",\"input\":\"r\",\"output\":\"a\"}"]);
        Cache = new ArtifactCache(Path.Combine(Root, "cache"));
    }

    public string Root { get; }

    public ArtifactCache Cache { get; }

    public string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>A pipeline YAML text using this folder; <paramref name="overrides"/> replaces whole lines by their key prefix.</summary>
    public string Yaml(params (string Line, string Replacement)[] overrides)
    {
        string text = $$"""
            name: test
            output: {{Root}}/out
            model:
              init: {arch: llama, size: tiny, seed: 1}
              tokenizer: {{Root}}/tokenizer
            dataset:
              file: {{Root}}/train.jsonl
              rows: 4
            prompt:
              template: medical-cot
              max_seq_length: 128
            quantize:
              type: nf4
            lora:
              r: 4
              alpha: 8
            training:
              steps: 3
              learning_rate: 1.0e-3
              device: cpu
            evaluate:
              file: {{Root}}/eval.jsonl
              max_new_tokens: 8
            export:
              gguf: [f16]
            publish:
              local_dir: {{Root}}/publish
            """;
        foreach (var (line, replacement) in overrides)
        {
            string trimmed = line.Trim();
            var lines = text.Split('\n');
            int index = Array.FindIndex(lines, l => l.Trim() == trimmed);
            if (index < 0)
            {
                throw new ArgumentException($"no line '{line}' in the test pipeline");
            }

            lines[index] = lines[index][..(lines[index].Length - lines[index].TrimStart().Length)] + replacement;
            text = string.Join('\n', lines);
        }

        return text;
    }

    public PipelineDefinition Load(params (string Line, string Replacement)[] overrides) => PipelineLoader.Parse(Yaml(overrides), PathOf("test.yaml"));

    public string WriteFile(string name, string text)
    {
        string path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
