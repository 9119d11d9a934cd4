"""SOTLab: one framework for five single-object trackers (FCOT, DuML, Ocean, DCFST, SiamCAR)."""
from setuptools import find_packages, setup

setup(
    name="sotlab",
    version="0.1.0",
    description="Single-object visual tracking research framework (training, tracking, evaluation, VOT)",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["ltr", "ltr.*", "tracking", "tracking.*", "ops", "ops.*"]) + ["ops.csrc"],
    include_package_data=True,
    package_data={"ops.csrc": ["*.cpp", "*.cu", "*.h"]},
    install_requires=[
        # torch 2.14.1 / torchvision 0.29.1 is what we test; never require newer.
        "torch>=2.1,<=2.14.1",
        "torchvision>=0.16,<=0.29.1",
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "pyyaml>=6.0",
        "tqdm>=4.60",
        "tensorboard>=2.12",
        "matplotlib>=3.7",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "got10k==0.1.3",
            "six",  # got10k imports six without declaring it
            "vot-toolkit==0.7.4",  # 0.8/0.9 crash on supervised and multistart experiments
            "vot-trax==4.0.2",
            "attributee==0.1.9",  # 0.1.10 breaks `import vot`
        ],
    },
    entry_points={
        "console_scripts": [
            "sotlab=ltr.admin.cli:main",
            "sotlab-train=ltr.run_training:main",
            "sotlab-track=tracking.run_tracker:main",
            "sotlab-analyze=tracking.analyze:main",
            "sotlab-video=tracking.run_video:main",
            "sotlab-vot=tracking.vot:main",
        ],
    },
)
