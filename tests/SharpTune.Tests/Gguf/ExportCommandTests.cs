using SharpTune.Cli;
using SharpTune.Gguf;
using SharpTune.Lora;
using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Tests.Gguf;

public sealed class ExportCommandTests
{
    private static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Export_gguf_with_an_adapter_exports_the_merged_model()
    {
        _ = TorchFixture.Runtime;
        using var dir = new TempDirectory();
        string hf = new TinyHfModel("llama", Hidden: 64, Intermediate: 128, Layers: 2, Tokenizer: "llama-bpe", Tied: false, Seed: 5).Write(dir.File("base"));
        string adapterDir = dir.File("adapter");
        using (var adapted = new LoraCausalLM(CausalLM.Load(hf, ScalarType.Float32, CPU), new LoraConfig { Rank = 4, Alpha = 8 }))
        {
            var generator = new Generator(17);
            using var noGrad = no_grad();
            foreach (var (_, layer) in adapted.Adapters)
            {
                layer.LoraB.normal_(0, 0.05, generator);
            }

            adapted.SaveAdapter(adapterDir);
        }

        // The oracle: the same adapter merged by `sharptune merge`'s library call, then exported without one.
        LoraMerger.Merge(hf, adapterDir, dir.File("merged"), ScalarType.Float32);
        int mergeFoldersBefore = Directory.GetDirectories(Path.GetTempPath(), "sharptune-merge-*").Length;
        var (code, _, error) = Run("export", "gguf", "--model", hf, "--adapter", adapterDir, "--quant", "f32", "--out", dir.File("a"), "--name", "m");
        Assert.True(code == 0, error);
        Assert.Contains("merged", error);
        Assert.Equal(0, Run("export", "gguf", "--model", dir.File("merged"), "--quant", "f32", "--out", dir.File("b"), "--name", "m").ExitCode);
        Assert.Equal(0, Run("export", "gguf", "--model", hf, "--quant", "f32", "--out", dir.File("c"), "--name", "m").ExitCode);

        using var withAdapter = GgufReader.Open(dir.File("a/m.f32.gguf"));
        using var merged = GgufReader.Open(dir.File("b/m.f32.gguf"));
        using var plain = GgufReader.Open(dir.File("c/m.f32.gguf"));
        foreach (var name in new[] { "blk.0.attn_q.weight", "blk.1.ffn_down.weight" })
        {
            Assert.Equal(merged.ReadTensorAsFloat32(name), withAdapter.ReadTensorAsFloat32(name));
            Assert.NotEqual(plain.ReadTensorAsFloat32(name), withAdapter.ReadTensorAsFloat32(name));
        }

        Assert.Equal(mergeFoldersBefore, Directory.GetDirectories(Path.GetTempPath(), "sharptune-merge-*").Length); // the temporary merge is removed
    }

    [Fact]
    public void Export_gguf_writes_one_file_and_one_modelfile_per_quantization()
    {
        using var dir = new TempDirectory();
        string hf = new TinyHfModel("qwen2", Hidden: 256, Intermediate: 256, Layers: 2, Tokenizer: "qwen2", Tied: true, Seed: 9).Write(dir.File("my-model"));
        var (code, output, error) = Run("export", "gguf", "--model", hf, "--quant", "q8_0, f16", "--out", dir.File("out"), "--system", "You are a doctor.");
        Assert.True(code == 0, error);
        Assert.Contains("q8_0", output);
        Assert.Equal(["my-model.f16.Modelfile", "my-model.f16.gguf", "my-model.q8_0.Modelfile", "my-model.q8_0.gguf"],
            Directory.GetFiles(dir.File("out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using (var reader = GgufReader.Open(dir.File("out/my-model.q8_0.gguf")))
        {
            Assert.Equal((long)GgufFileType.Q8_0, reader.Value("general.file_type").AsInt64());
            Assert.Equal("my-model", reader.Value("general.name").AsString());
        }

        string modelfile = File.ReadAllText(dir.File("out/my-model.q8_0.Modelfile"));
        Assert.StartsWith("FROM ./my-model.q8_0.gguf\n", modelfile);
        Assert.Contains("<|im_start|>assistant", modelfile);
        Assert.Contains("SYSTEM \"\"\"You are a doctor.\"\"\"", modelfile);
    }

    [Fact]
    public void Export_of_a_missing_directory_or_unknown_quantization_is_a_one_line_error()
    {
        var (code, _, error) = Run("export", "gguf", "--model", "/no/such/model");
        Assert.Equal(1, code);
        Assert.Equal("error: --model /no/such/model: directory not found", error.Trim());

        using var dir = new TempDirectory();
        string hf = new TinyHfModel("llama", Hidden: 256, Intermediate: 256, Layers: 1).Write(dir.File("m"));
        (code, _, error) = Run("export", "gguf", "--model", hf, "--quant", "q3_x");
        Assert.Equal(1, code);
        Assert.StartsWith("error: unknown GGUF quantization 'q3_x'; use one of: f32, f16, bf16, q8_0", error.Trim());
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void A_model_without_a_tokenizer_names_the_missing_file()
    {
        using var dir = new TempDirectory();
        string hf = new TinyHfModel("llama", Hidden: 256, Intermediate: 256, Layers: 1).Write(dir.File("m"));
        File.Delete(Path.Combine(hf, "tokenizer.json"));
        var (code, _, error) = Run("export", "gguf", "--model", hf);
        Assert.Equal(1, code);
        Assert.Contains("tokenizer.json: not found", error);
    }

    [Fact]
    public void Help_explains_the_quantization_types()
    {
        var (code, output, _) = Run("export", "gguf", "--help");
        Assert.Equal(0, code);
        Assert.Contains("q4_k_m", output);
        Assert.Contains("--system", output);
    }
}
