using SharpTune.Progress;
using SharpTune.Training;
using TorchSharp;

namespace SharpTune.Tests.Training;

[Collection(GlobalRandomCollection.Name)]
public sealed class SftTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharptune-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private TrainingOptions Options(string name, int steps, double dropout = 0) => new()
    {
        OutputDir = Path.Combine(_dir, name),
        BatchSize = 4,
        GradientAccumulation = 2,
        MaxSteps = steps,
        LearningRate = 1e-2,
        WarmupSteps = 2,
        MaxSequenceLength = 16,
        SaveSteps = 0,
        Optimizer = "adamw_8bit",
        LoraDropout = dropout,
    };

    [Fact]
    public void A_tiny_models_loss_falls_clearly_and_the_log_and_adapter_are_written()
    {
        SingleThreadedTorch.Initialize();
        using var model = new TinyLoraLM();
        var options = Options("falls", 30);
        var reports = new List<OperationProgress>();
        var result = new SftTrainer(model, TinyLoraLM.ArithmeticSamples(64), options).Train(new SynchronousProgress(reports.Add), TestContext.Current.CancellationToken);
        Assert.Equal(30, result.Steps.Count);
        double first = result.Steps.Take(3).Average(s => s.Loss);
        double last = result.Steps.TakeLast(3).Average(s => s.Loss);
        Assert.True(last < 0.7 * first, $"loss went from {first:0.000} to {last:0.000}");
        Assert.All(result.Steps, s => Assert.True(double.IsFinite(s.GradNorm) && s.Tokens > 0 && s.TokensPerSecond > 0));
        Assert.Equal(0, result.Steps[0].LearningRate); // warmup starts at 0, as HF's schedules do
        Assert.Equal(30, File.ReadAllLines(Path.Combine(options.OutputDir, SftTrainer.LogFileName)).Length);
        Assert.True(File.Exists(Path.Combine(result.AdapterDirectory, "adapter.bin")));
        Assert.Null(result.PeakGpuMemoryBytes);
        Assert.Equal(30, reports.Last().Done);
        Assert.Contains("loss", reports.Last().Detail);
    }

    [Fact]
    public void Resume_reproduces_the_uninterrupted_loss_curve_exactly_with_dropout()
    {
        SingleThreadedTorch.Initialize();
        var samples = TinyLoraLM.ArithmeticSamples(40);
        double[] uninterrupted;
        using (var model = new TinyLoraLM(dropout: 0.1))
        {
            uninterrupted = new SftTrainer(model, samples, Options("full", 8, 0.1)).Train(null, TestContext.Current.CancellationToken).Steps.Select(s => s.Loss).ToArray();
        }

        var options = Options("resumed", 8, 0.1) with { SaveSteps = 3 };
        using (var model = new TinyLoraLM(dropout: 0.1))
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            var progress = new SynchronousProgress(p => { if (p.Done == 4) stop.Cancel(); });
            Assert.Throws<OperationCanceledException>(() => new SftTrainer(model, samples, options).Train(progress, stop.Token));
        }

        Assert.True(Directory.Exists(Path.Combine(options.OutputDir, "checkpoint-000003")));
        TrainingResult resumed;
        using (var model = new TinyLoraLM(dropout: 0.1))
        {
            resumed = new SftTrainer(model, samples, options with { Resume = true }).Train(null, TestContext.Current.CancellationToken);
        }

        Assert.Equal(3, resumed.ResumedFromStep);
        Assert.Equal(uninterrupted, resumed.Steps.Select(s => s.Loss).ToArray());
        Assert.Equal(8, File.ReadAllLines(Path.Combine(options.OutputDir, SftTrainer.LogFileName)).Length);
        Assert.NotEqual(uninterrupted[3], uninterrupted[4]);
    }

    [Fact]
    public void Checkpointed_and_plain_training_give_the_same_losses()
    {
        SingleThreadedTorch.Initialize();
        var samples = TinyLoraLM.ArithmeticSamples(24);
        double[] Run(GradientCheckpointing mode, string name)
        {
            using var model = new TinyLoraLM(dropout: 0.1);
            return new SftTrainer(model, samples, Options(name, 4, 0.1) with { GradientCheckpointing = mode }).Train(null, TestContext.Current.CancellationToken).Steps.Select(s => s.Loss).ToArray();
        }

        var plain = Run(GradientCheckpointing.Off, "plain");
        var checkpointed = Run(GradientCheckpointing.On, "on");
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.Equal(plain[i], checkpointed[i], 5);
        }
    }

    [Fact]
    public void A_trainable_lm_head_is_trained_the_same_with_and_without_checkpointing()
    {
        // The checkpointed loss chunks compute only the hidden rows' gradient: the trainer must not use them when the
        // LM head has trainable parameters.
        SingleThreadedTorch.Initialize();
        var samples = TinyLoraLM.ArithmeticSamples(24);
        (double[] Losses, float[] Head) Run(GradientCheckpointing mode, string name)
        {
            using var model = new TinyLoraLM(trainableHead: true);
            var before = model.TrainableParameters.Single(p => p.Name == "lm_head.weight").Parameter.detach().clone();
            var losses = new SftTrainer(model, samples, Options(name, 4, 0.1) with { GradientCheckpointing = mode })
                .Train(null, TestContext.Current.CancellationToken).Steps.Select(s => s.Loss).ToArray();
            var head = model.TrainableParameters.Single(p => p.Name == "lm_head.weight").Parameter;
            Assert.False(head.allclose(before), "the LM head was not updated");
            return (losses, head.detach().clone().data<float>().ToArray());
        }

        var plain = Run(GradientCheckpointing.Off, "head-plain");
        var checkpointed = Run(GradientCheckpointing.On, "head-on");
        Assert.Equal(plain.Losses.Length, checkpointed.Losses.Length);
        for (int i = 0; i < plain.Losses.Length; i++)
        {
            Assert.Equal(plain.Losses[i], checkpointed.Losses[i], 5);
        }

        for (int i = 0; i < plain.Head.Length; i++)
        {
            Assert.True(Math.Abs(plain.Head[i] - checkpointed.Head[i]) <= 1e-5, $"head weight {i}: {plain.Head[i]} vs {checkpointed.Head[i]}");
        }
    }

    [Fact]
    public void Checkpoint_layers_auto_without_a_gpu_reading_keeps_every_layer_checkpointed_and_says_so()
    {
        SingleThreadedTorch.Initialize();
        var samples = TinyLoraLM.ArithmeticSamples(16);
        var reports = new List<SharpTune.Progress.OperationProgress>();
        TrainingResult Run(string name, string? layers, IProgress<SharpTune.Progress.OperationProgress>? progress)
        {
            using var model = new TinyLoraLM();
            return new SftTrainer(model, samples, Options(name, 3, 0) with { CheckpointLayers = layers }).Train(progress, TestContext.Current.CancellationToken);
        }

        var all = Run("all", null, null);
        var auto = Run("auto", "auto", new SynchronousProgress(reports.Add));
        Assert.Null(auto.CheckpointLayers);
        Assert.Equal(all.Steps.Select(s => s.Loss), auto.Steps.Select(s => s.Loss));
        Assert.Contains(reports, r => r.Detail?.Contains("checkpoint_layers auto: GPU memory or architecture unknown", StringComparison.Ordinal) == true);
        Assert.Equal(1, Run("one", "1", null).CheckpointLayers);
    }

    [Fact]
    public void Offload_mlp_layers_without_the_fused_mlp_offloads_nothing_says_so_and_trains_the_same()
    {
        // This model's blocks are no fused LoRA MLP (and the CPU runs the reference path): nothing is sent, the run
        // reports 0 bytes offloaded, and the losses are those of the run without the setting.
        SingleThreadedTorch.Initialize();
        var samples = TinyLoraLM.ArithmeticSamples(16);
        TrainingResult Run(string name, int offload)
        {
            using var model = new TinyLoraLM();
            return new SftTrainer(model, samples, Options(name, 3, 0) with { OffloadMlpLayers = offload }).Train(null, TestContext.Current.CancellationToken);
        }

        var plain = Run("plain", 0);
        var offloaded = Run("offload", 2);
        Assert.Null(plain.OffloadedBytes);
        Assert.Equal(0, offloaded.OffloadedBytes);
        Assert.Equal(plain.Steps.Select(s => s.Loss), offloaded.Steps.Select(s => s.Loss));
    }

    [Fact]
    public void A_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint()
    {
        SingleThreadedTorch.Initialize();
        using var model = new TinyLoraLM { PoisonFromCall = 2 * 4 + 1 }; // the 5th step's first micro-batch
        var options = Options("nan", 10) with { SaveSteps = 2 };
        var error = Assert.Throws<SharpTuneException>(() => new SftTrainer(model, TinyLoraLM.ArithmeticSamples(32), options).Train(null, TestContext.Current.CancellationToken));
        Assert.StartsWith("training diverged: loss is NaN at step 5; stopped. The last good checkpoint is ", error.Message);
        Assert.Contains("checkpoint-000004", error.Message);
        Assert.True(File.Exists(Path.Combine(options.OutputDir, "checkpoint-000004", "trainer_state.json")));
        Assert.False(Directory.Exists(Path.Combine(options.OutputDir, "checkpoint-000005")));
    }

    [Fact]
    public void Live_tensors_do_not_grow_over_steps()
    {
        SingleThreadedTorch.Initialize();
        using var model = new TinyLoraLM();
        var live = new List<long>();
        var progress = new SynchronousProgress(_ => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        new SftTrainer(model, TinyLoraLM.ArithmeticSamples(32), Options("leak", 8)).Train(progress, TestContext.Current.CancellationToken);
        // live[0] is before the first step; steps 2..7 must all leave the same number of live tensors.
        Assert.True(live.Count == 9, string.Join(",", live));
        Assert.True(live.Skip(3).Take(5).All(count => count == live[2]), "live tensors after each step: " + string.Join(", ", live));
    }

    [Fact]
    public void Options_bind_from_yaml_with_snake_case_keys_and_unknown_keys_are_errors()
    {
        string path = Path.Combine(_dir, "train.yaml");
        File.WriteAllText(path, "model: /m\nmax_steps: 12\nlearning_rate: 1.0e-4\noptimizer: adamw\ntarget_modules: [q, v]\ngradient_checkpointing: offload\nscheduler: cosine\n");
        var options = TrainingOptions.LoadYaml(path);
        Assert.Equal("/m", options.Model);
        Assert.Equal(12, options.MaxSteps);
        Assert.Equal(1e-4, options.LearningRate);
        Assert.Equal(OptimizerKind.AdamW, options.OptimizerKind);
        Assert.Equal(GradientCheckpointing.Offload, options.GradientCheckpointing);
        Assert.Equal(LearningRateScheduleKind.Cosine, options.Scheduler);
        Assert.Equal(new[] { "q_proj", "v_proj" }, options.ToLoraConfig().TargetModules);
        Assert.Equal(2, options.BatchSize); // defaults are the reference run's
        Assert.Equal(3407, options.Seed);

        File.WriteAllText(path, "max_step: 12\n");
        var error = Assert.Throws<SharpTuneException>(() => TrainingOptions.LoadYaml(path));
        Assert.Contains("line 1", error.Message);
        Assert.Contains("max_step", error.Message);
    }

    private sealed class SynchronousProgress(Action<OperationProgress> report) : IProgress<OperationProgress>
    {
        public void Report(OperationProgress value) => report(value);
    }
}
