using System.Diagnostics;
using System.Text.Json;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Training;

/// <summary>
/// Our LoRA adapters against Hugging Face PEFT (tests/oracles/peft_roundtrip.py): PEFT loads an adapter we wrote and
/// gives the same logits as our adapted model; we load an adapter PEFT made (random non-zero B) and give PEFT's logits.
/// Tiny random models in float32, on the GPU.
/// </summary>
public sealed class PeftOracleTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharptune-peft-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly long[][] Rows = [[1, 5, 9, 33, 70, 2, 11, 100], [3, 4, 8, 90, 17, 64, 5, 6]];

    private string SaveBase(ModelFamily family)
    {
        string path = Path.Combine(_dir, "base-" + family);
        using var model = TinyModelFactory.CreateModel(TinyModelFactory.Config(family, TinyModelSize.Tiny, 128, 1, [2]), 11, ScalarType.Float32, CPU);
        model.SavePretrained(path);
        File.WriteAllText(Path.Combine(_dir, "ids.json"), JsonSerializer.Serialize(Rows));
        return path;
    }

    private static Tensor Ids(Device device) => tensor(Rows.SelectMany(r => r).ToArray(), [Rows.Length, Rows[0].Length], device: device);

    private void Oracle(params string[] arguments)
    {
        string repo = Environment.GetEnvironmentVariable("SHARPTUNE_REPO") is { Length: > 0 } r ? r : Directory.GetCurrentDirectory();
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(repo, "tests", "oracles", "peft_roundtrip.py"));
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        output.WriteLine(stdout);
        Assert.True(process.ExitCode == 0, stderr);
    }

    private static Tensor ReadLogits(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.ReadTensor("logits", ScalarType.Float32, CPU);
    }

    [Theory]
    [InlineData(ModelFamily.Llama, false)]
    [InlineData(ModelFamily.Qwen2, true)]
    public void Peft_loads_our_adapter_and_gives_our_logits(ModelFamily family, bool rsLora)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        string basePath = SaveBase(family);
        using var model = new LoraCausalLM(CausalLM.Load(basePath, ScalarType.Float32, CUDA),
            new LoraConfig { Rank = 8, Alpha = 16, TargetModules = ["q", "k", "v", "o", "gate", "up", "down"], UseRsLora = rsLora });
        using (no_grad())
        {
            var generator = new Generator(5);
            foreach (var (_, layer) in model.Adapters)
            {
                layer.LoraB.copy_(randn(layer.LoraB.shape, generator: generator) * 0.05f);
            }
        }

        string adapter = Path.Combine(_dir, "ours");
        model.SaveAdapter(adapter);
        Tensor ours;
        using (no_grad())
        {
            ours = model.Logits(Ids(CUDA)).cpu();
        }

        string logits = Path.Combine(_dir, "peft-logits.safetensors");
        Oracle("load-ours", "--model", basePath, "--adapter", adapter, "--ids", Path.Combine(_dir, "ids.json"), "--out", logits);
        var peft = ReadLogits(logits);
        double diff = (peft - ours).abs().max().item<float>();
        output.WriteLine($"{family}: max |PEFT - ours| = {diff:E2}");
        Assert.True(diff < 2e-3, $"max difference {diff}");
    }

    [Fact]
    public void We_load_a_peft_made_adapter_and_give_its_logits()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        string basePath = SaveBase(ModelFamily.Llama);
        string adapter = Path.Combine(_dir, "peft");
        string logits = Path.Combine(_dir, "peft-made.safetensors");
        Oracle("make-peft", "--model", basePath, "--adapter", adapter, "--ids", Path.Combine(_dir, "ids.json"), "--out", logits,
            "--r", "4", "--alpha", "8", "--targets", "q_proj,v_proj,down_proj");
        using var loaded = PeftAdapter.Load(adapter);
        Assert.Equal(new[] { "q_proj", "v_proj", "down_proj" }, loaded.Config.TargetModules);
        using var model = new LoraCausalLM(CausalLM.Load(basePath, ScalarType.Float32, CUDA), loaded.Config);
        model.LoadAdapterWeights(loaded);
        Tensor ours;
        using (no_grad())
        {
            ours = model.Logits(Ids(CUDA)).cpu();
        }

        var peft = ReadLogits(logits);
        double diff = (peft - ours).abs().max().item<float>();
        output.WriteLine($"max |PEFT - ours| = {diff:E2}");
        Assert.True(diff < 2e-3, $"max difference {diff}");
    }
}
